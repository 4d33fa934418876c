//! Median and percentiles of a set of durations.

use std::time::Duration;

/// Summary of repeated measurements.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// The median.
    pub median: Duration,
    /// The 90th percentile.
    pub p90: Duration,
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
        }
    }
}

/// Formats a duration in milliseconds with three decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// Prints one row of the report.
pub fn row(name: &str, summary: Summary, target: &str) {
    println!(
        "| {name} | {} | {} | {target} |",
        ms(summary.median),
        ms(summary.p90)
    );
}
