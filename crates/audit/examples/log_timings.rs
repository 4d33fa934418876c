//! Times the audit log: each append, then one verify and one prune of everything.
//!
//! `cargo run --release -p codemode-audit --example log_timings [DIR] [COUNT]`
//!
//! DIR defaults to the system temp directory; put it on the disk the server will use.

use std::time::{Duration, Instant};

use codemode_audit::{
    AuditLog, CallRecord, Outcome, RequestDecision, Timestamp, Tool, UpstreamRequest,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().map_or_else(std::env::temp_dir, Into::into);
    let count: usize = args.next().map_or(Ok(2_000), |text| text.parse())?;
    let path = dir.join(format!("log-timings-{}.db", std::process::id()));
    let log = AuditLog::open(&path)?;

    let mut micros = Vec::with_capacity(count);
    for n in 0..count {
        let record = sample(n);
        let started = Instant::now();
        log.append(&record)?;
        micros.push(started.elapsed().as_micros());
    }
    let verifying = Instant::now();
    let report = log.verify()?;
    let verify_ms = verifying.elapsed().as_millis();
    let pruning = Instant::now();
    let pruned = log.prune(Timestamp::now().saturating_add(Duration::from_secs(1)))?;
    let prune_ms = pruning.elapsed().as_millis();

    micros.sort_unstable();
    let at = |fraction: f64| micros[((micros.len() - 1) as f64 * fraction) as usize];
    println!(
        "{count} appends to {}: median {} µs, p90 {} µs, p99 {} µs, max {} µs",
        path.display(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
    println!(
        "verify of {} rows: {verify_ms} ms (intact: {}); prune of {pruned} rows: {prune_ms} ms",
        report.checked,
        report.is_intact()
    );

    drop(log);
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.clone().into_os_string();
        name.push(suffix);
        std::fs::remove_file(name).ok();
    }
    Ok(())
}

/// A typical `execute` record: some code and three upstream requests.
fn sample(n: usize) -> CallRecord {
    CallRecord {
        time: Timestamp::now(),
        subject: "agent@example.com".to_owned(),
        session: Some("session-1".to_owned()),
        client: Some("latency-example".to_owned()),
        tool: Tool::Execute,
        code_sha256: format!("{n:064x}"),
        code: Some("async () => { const zones = await cloudflare.request({ method: 'GET', path: '/zones' }); return zones.result.length; }".to_owned()),
        code_chars: None,
        account: Some("account-1".to_owned()),
        requests: (0..3)
            .map(|i| UpstreamRequest {
                method: "GET".to_owned(),
                template: Some("/zones/{zone_id}/dns_records".to_owned()),
                path: format!("/zones/{i:032x}/dns_records"),
                status: Some(200),
                duration_ms: 85,
                attempts: Some(1),
                decision: RequestDecision::Allow,
                intent: None,
                no_answer: None,
                upstream: None,
            })
            .collect(),
        approvals: Vec::new(),
        outcome: Outcome::Ok,
        error_kind: None,
        duration_ms: 260,
        result_chars: 1_800,
    }
}
