//! `execute`: requests, the account id and the console reach the host, and nothing else does.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::common::{Shared, TestHost, pool, small_view, value};
use codemode_sandbox::{
    CancelToken, Determinism, LogLevel, Outcome, Pool, PoolConfig, SandboxError,
};
use serde_json::json;

async fn execute(pool: &Pool, host: &Arc<TestHost>, code: &str) -> Result<Outcome, SandboxError> {
    pool.execute(code, Arc::new(Shared(host.clone())), CancelToken::new())
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_resolves_with_the_envelope() {
    let (pool, host) = (pool(small_view(), 1), TestHost::new());
    let outcome = execute(
        &pool,
        &host,
        "async () => { const response = await cloudflare.request({ method: 'GET', path: '/zones', query: { page: 2 } }); return response.result; }",
    )
    .await;
    assert_eq!(
        outcome.map(value),
        Ok(json!({ "method": "GET", "path": "/zones", "query": { "page": 2 } }))
    );
    assert_eq!(
        *host.requests.lock().unwrap(),
        vec![json!({ "method": "GET", "path": "/zones", "query": { "page": 2 } })]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_error_rejects_with_its_codes_status_and_errors() {
    let (pool, host) = (pool(small_view(), 1), TestHost::new());
    let caught = execute(
        &pool,
        &host,
        "async () => { try { await cloudflare.request({ method: 'GET', path: '/fail' }); } catch (error) { return [error.message, error.status, error.errors.length, error instanceof Error]; } }",
    )
    .await;
    assert_eq!(
        caught.map(value),
        Ok(json!([
            "Cloudflare API error (HTTP 400): [1003] Invalid zone identifier; [7003] No route",
            400,
            2,
            true
        ]))
    );
    let uncaught = execute(
        &pool,
        &host,
        "async () => cloudflare.request({ method: 'GET', path: '/fail' })",
    )
    .await;
    assert!(
        matches!(&uncaught, Err(SandboxError::Thrown { message }) if message.starts_with("Uncaught Error: Cloudflare API error (HTTP 400): [1003] Invalid zone identifier")),
        "{uncaught:?}"
    );
    let broken = execute(
        &pool,
        &host,
        "async () => cloudflare.request({ method: 'GET', path: '/broken' })",
    )
    .await;
    assert!(
        matches!(&broken, Err(SandboxError::Thrown { message }) if message.starts_with("Uncaught Error: upstream unreachable")),
        "{broken:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_options_reject_before_reaching_the_host() {
    let (pool, host) = (pool(small_view(), 1), TestHost::new());
    let outcome = execute(
        &pool,
        &host,
        "async () => {
            const reasons = [];
            for (const options of [undefined, 'GET /zones', { path: '/x', body: { size: 10n } }, { path: '/x', body: { f() {} } }, (() => { const o = { path: '/x' }; o.body = o; return o; })()]) {
                try { await cloudflare.request(options); reasons.push('sent'); } catch (error) { reasons.push(error.message); }
            }
            return reasons;
        }",
    )
    .await;
    assert_eq!(
        outcome.map(value),
        Ok(json!([
            "cloudflare.request: expects one options object, e.g. { method: \"GET\", path: \"/zones\" }",
            "cloudflare.request: expects one options object, e.g. { method: \"GET\", path: \"/zones\" }",
            "cloudflare.request: options.body.size is a BigInt, which JSON cannot carry; convert it with String() or Number()",
            "cloudflare.request: options.body.f is a function, which JSON cannot carry",
            "cloudflare.request: options.body contains itself, which JSON cannot carry"
        ]))
    );
    assert!(host.requests.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_started_together_are_in_flight_together() {
    let (pool, host) = (pool(small_view(), 1), TestHost::new());
    let outcome = execute(
        &pool,
        &host,
        "async () => (await Promise.all([1, 2, 3].map((n) => cloudflare.request({ method: 'GET', path: '/together', query: { n } })))).map((r) => r.result.query.n)",
    )
    .await;
    assert_eq!(outcome.map(value), Ok(json!([1, 2, 3])));
    assert_eq!(host.most_in_flight.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_function_is_out_of_reach() {
    let (pool, host) = (pool(small_view(), 1), TestHost::new());
    let outcome = execute(
        &pool,
        &host,
        "async () => {
            const names = Object.getOwnPropertyNames(globalThis).filter((name) => !/^[A-Z]/.test(name) && !['globalThis', 'undefined', 'parseInt', 'parseFloat', 'isNaN', 'isFinite', 'decodeURI', 'decodeURIComponent', 'encodeURI', 'encodeURIComponent', 'escape', 'unescape', 'eval', 'queueMicrotask', 'structuredClone'].includes(name));
            return [names.sort(), Object.keys(cloudflare), cloudflare.request.length];
        }",
    )
    .await;
    assert_eq!(
        outcome.map(value),
        Ok(json!([
            ["accountId", "cloudflare", "console"],
            ["request"],
            1
        ]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_id_is_read_lazily_once_and_errors_throw() {
    let (pool, host) = (
        pool(small_view(), 1),
        TestHost::with_account(Ok("acc-123".into())),
    );
    let outcome = execute(&pool, &host, "async () => [accountId, accountId]").await;
    assert_eq!(outcome.map(value), Ok(json!(["acc-123", "acc-123"])));
    assert_eq!(host.account_lookups.load(Ordering::SeqCst), 1);
    let unused = execute(&pool, &host, "async () => 1").await;
    assert_eq!(unused.map(value), Ok(json!(1)));
    assert_eq!(host.account_lookups.load(Ordering::SeqCst), 1);

    let failing = TestHost::with_account(Err("several accounts: pass account_id".into()));
    let caught = execute(
        &pool,
        &failing,
        "async () => { try { return accountId; } catch (error) { return error.message; } }",
    )
    .await;
    assert_eq!(
        caught.map(value),
        Ok(json!("several accounts: pass account_id"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_lines_reach_the_host_in_order_and_the_outcome() {
    let (pool, host) = (pool(small_view(), 1), TestHost::new());
    let outcome = execute(
        &pool,
        &host,
        "async () => {
            console.log('text', 1, { a: [1, 2] }, undefined, null, 5n);
            console.info('info');
            await cloudflare.request({ method: 'GET', path: '/zones' });
            console.warn('warn');
            console.error(new TypeError('bad'));
            return 'done';
        }",
    )
    .await
    .expect("the code runs");
    let lines: Vec<(LogLevel, String)> = outcome
        .logs
        .iter()
        .map(|line| (line.level, line.text.clone()))
        .collect();
    assert_eq!(
        lines[0],
        (
            LogLevel::Log,
            "text 1 {\"a\":[1,2]} undefined null 5n".to_owned()
        )
    );
    assert_eq!(lines[1], (LogLevel::Info, "info".to_owned()));
    assert_eq!(lines[2], (LogLevel::Warn, "warn".to_owned()));
    assert_eq!(lines[3].0, LogLevel::Error);
    assert!(
        lines[3].1.starts_with("TypeError: bad\n    at "),
        "{}",
        lines[3].1
    );
    assert_eq!(
        host.log_texts(),
        outcome
            .logs
            .iter()
            .map(|line| line.text.clone())
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_output_is_capped() {
    let (pool, host) = (pool(small_view(), 1), TestHost::new());
    let outcome = execute(
        &pool,
        &host,
        "async () => { for (let i = 0; i < 10000; i++) console.log('x'.repeat(100)); }",
    )
    .await
    .expect("the code runs");
    let kept: usize = outcome
        .logs
        .iter()
        .map(|line| line.text.chars().count())
        .sum();
    let limit = PoolConfig::default().execute.log_chars;
    assert!(kept < limit + 200, "kept {kept} of {limit}");
    assert!(
        outcome
            .logs
            .last()
            .is_some_and(|line| line.text.starts_with("console output truncated"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_never_finishes_times_out_and_the_worker_recovers() {
    let (pool, host) = (pool(small_view(), 1), TestHost::new());
    let outcome = execute(
        &pool,
        &host,
        "async () => cloudflare.request({ method: 'GET', path: '/hang' })",
    )
    .await;
    assert_eq!(
        outcome,
        Err(SandboxError::Timeout {
            limit: Duration::from_secs(2)
        })
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        host.in_flight.load(Ordering::SeqCst),
        0,
        "the hanging request was aborted"
    );
    let next = execute(&pool, &host, "async () => 'next'").await;
    assert_eq!(next.map(value), Ok(json!("next")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_pending_request_frees_the_worker_promptly() {
    let (pool, host) = (pool(small_view(), 1), TestHost::new());
    let cancel = CancelToken::new();
    let running = {
        let (pool, cancel) = (pool.clone(), cancel.clone());
        let host: Arc<dyn codemode_sandbox::Host> = Arc::new(Shared(host.clone()));
        tokio::spawn(async move {
            pool.execute(
                "async () => cloudflare.request({ path: '/hang' })",
                host,
                cancel,
            )
            .await
        })
    };
    while host.in_flight.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cancel.cancel();
    let outcome = running.await.expect("the task finishes");
    assert_eq!(outcome, Err(SandboxError::Cancelled));
    let next = execute(&pool, &host, "async () => 'next'").await;
    assert_eq!(next.map(value), Ok(json!("next")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promise_nothing_can_settle_is_reported() {
    let (pool, host) = (pool(small_view(), 1), TestHost::new());
    let outcome = execute(&pool, &host, "async () => new Promise(() => {})").await;
    assert_eq!(outcome, Err(SandboxError::NeverSettled));
}

/// Prints the cost of an `execute` call with a fresh runtime and one host request; run with
/// `--ignored --nocapture` in release mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn execute_cost() {
    let (pool, host) = (pool(small_view(), 1), TestHost::new());
    for (label, code) in [
        ("no request", "async () => 1"),
        (
            "one request",
            "async () => (await cloudflare.request({ method: 'GET', path: '/zones' })).success",
        ),
    ] {
        let mut times = Vec::new();
        for _ in 0..60 {
            let started = Instant::now();
            execute(&pool, &host, code).await.expect("the code runs");
            times.push(started.elapsed());
        }
        times.sort();
        println!(
            "execute, {label}: median {:?}, p90 {:?}",
            times[times.len() / 2],
            times[times.len() * 9 / 10]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_is_the_hosts_and_random_numbers_come_from_its_seed() {
    let pool = pool(small_view(), 1);
    let code = "async () => {
        const before = Date.now();
        await cloudflare.request({ method: 'GET', path: '/zones' });
        const after = Date.now();
        const iso = new Date().toISOString();
        const back = Date.now();
        return {
            now: [before, after, back],
            iso,
            called: typeof Date(),
            epoch: new Date(0).toISOString(),
            isDate: new Date() instanceof Date && new Date(0).constructor === Date,
            random: [Math.random(), Math.random(), Math.random()],
        };
    }";
    // The fourth reading goes back in time; the code sees the third again.
    let clock = vec![
        1_764_000_000_000,
        1_764_000_000_250,
        1_764_000_001_000,
        1_764_000_000_500,
    ];
    let seeded = |seed| TestHost::with_clock(Determinism { seed }, clock.clone());
    let run = |host: Arc<TestHost>| {
        let pool = pool.clone();
        async move {
            let result = execute(&pool, &host, code).await.map(value);
            (result, host.clock_reads.load(Ordering::SeqCst))
        }
    };
    let (first, reads) = run(seeded(7)).await;
    let first = first.expect("the code runs");
    assert_eq!(first, run(seeded(7)).await.0.expect("the code runs again"));
    assert_eq!(
        first["now"],
        json!([
            1_764_000_000_000_i64,
            1_764_000_000_250_i64,
            1_764_000_001_000_i64
        ])
    );
    assert_eq!(first["iso"], json!("2025-11-24T16:00:01.000Z"));
    assert_eq!(
        reads, 6,
        "every Date.now(), new Date() and Date() reads the host's clock"
    );
    assert_eq!(first["called"], json!("string"));
    assert_eq!(first["epoch"], json!("1970-01-01T00:00:00.000Z"));
    assert_eq!(first["isDate"], json!(true));
    let random: Vec<f64> = serde_json::from_value(first["random"].clone()).expect("numbers");
    assert!(random.iter().all(|r| (0.0..1.0).contains(r)), "{random:?}");
    assert!(
        random[0] != random[1] && random[1] != random[2],
        "{random:?}"
    );
    let other = run(seeded(8)).await.0.expect("the code runs");
    assert_ne!(first["random"], other["random"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_the_clock_is_the_systems_and_moves_on_across_an_awaited_request() {
    let (pool, host) = (pool(small_view(), 1), TestHost::new());
    let code = "async () => {
        const before = Date.now();
        await cloudflare.request({ method: 'GET', path: '/person', query: { ms: 20 } });
        return [before, Date.now(), new Date().getTime()];
    }";
    let earliest = codemode_sandbox::unix_ms();
    let read = value(execute(&pool, &host, code).await.expect("the code runs"));
    let latest = codemode_sandbox::unix_ms();
    let read: Vec<i64> = serde_json::from_value(read).expect("three times");
    assert!(read.windows(2).all(|pair| pair[0] <= pair[1]), "{read:?}");
    assert!(
        earliest <= read[0] && read[2] <= latest,
        "{earliest} <= {read:?} <= {latest}"
    );
    assert_eq!(host.clock_reads.load(Ordering::SeqCst), 3);
}
