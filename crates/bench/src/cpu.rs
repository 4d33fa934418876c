//! CPU time a process has spent, summed over its threads: a per-call cost that, unlike wall
//! time, does not grow with what the rest of the machine is doing.

use std::time::Duration;

/// CPU time spent so far by the threads of process `pid` (`"self"` for this one), from each
/// thread's `/proc/<pid>/task/<tid>/schedstat` (nanoseconds on a CPU; threads that ended are
/// not counted, so measure across spans in which the threads that work stay alive).
pub fn spent(pid: &str) -> anyhow::Result<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let Ok(stat) = std::fs::read_to_string(task?.path().join("schedstat")) else {
            continue;
        };
        let on_cpu = stat.split_whitespace().next().unwrap_or("0");
        total = total.saturating_add(on_cpu.parse().unwrap_or(0));
    }
    Ok(Duration::from_nanos(total))
}

/// CPU time of `pid` per call over `calls` calls that `run` makes.
pub async fn per_call<F, Fut, T>(pid: &str, calls: usize, run: F) -> anyhow::Result<(T, Duration)>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let before = spent(pid)?;
    let value = run().await?;
    let used = spent(pid)?.saturating_sub(before);
    Ok((
        value,
        used / u32::try_from(calls.max(1)).unwrap_or(u32::MAX),
    ))
}
