//! Median and percentiles of a set of durations, and the report's formatting.

use std::time::{Duration, Instant};

/// Summary of repeated measurements.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    /// The median.
    pub median: Duration,
    /// The 90th percentile.
    pub p90: Duration,
    /// The 99th percentile.
    pub p99: Duration,
    /// The largest sample.
    pub max: Duration,
    /// How many samples.
    pub count: usize,
}

impl Summary {
    /// Summarises the samples; an empty set gives zeros.
    pub fn of(mut samples: Vec<Duration>) -> Summary {
        samples.sort();
        let at = |q: f64| {
            samples
                .get(((samples.len().saturating_sub(1)) as f64 * q).round() as usize)
                .copied()
                .unwrap_or_default()
        };
        Summary {
            median: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: samples.last().copied().unwrap_or_default(),
            count: samples.len(),
        }
    }

    /// Summarises samples given in milliseconds.
    pub fn of_millis(samples: &[f64]) -> Summary {
        Summary::of(
            samples
                .iter()
                .map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0))
                .collect(),
        )
    }
}

/// Formats a duration in milliseconds with three decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// The difference `a − b` in milliseconds, signed, with three decimals.
pub fn ms_minus(a: Duration, b: Duration) -> String {
    format!("{:+.3} ms", (a.as_secs_f64() - b.as_secs_f64()) * 1000.0)
}

/// Prints one latency row of the report: median, p90, p99.
pub fn row(name: &str, summary: Summary, target: &str) {
    println!(
        "| {name} | {} | {} | {} | {target} |",
        ms(summary.median),
        ms(summary.p90),
        ms(summary.p99)
    );
}

/// Prints one row holding a single figure.
pub fn figure(name: &str, value: &str, target: &str) {
    println!("| {name} | {value} | | | {target} |");
}

/// Calls made to warm up before `iterations` measured ones: enough for Node's JIT to settle.
pub fn warm_up(iterations: usize) -> usize {
    iterations / 3
}

/// Runs `f` [`warm_up`] times, then `iterations` times, timing each.
pub async fn repeat<F, Fut, E>(iterations: usize, mut f: F) -> anyhow::Result<Summary>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: Into<anyhow::Error>,
{
    for _ in 0..warm_up(iterations) {
        f().await.map_err(Into::into)?;
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        f().await.map_err(Into::into)?;
        samples.push(started.elapsed());
    }
    Ok(Summary::of(samples))
}
