//! Every limit ends only the call that hits it, with a clear error; the worker stays usable.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{Shared, TestHost, pool, quick_limits, small_view, value};
use codemode_sandbox::{CancelToken, Limits, Pool, PoolConfig, SandboxError};
use serde_json::json;

/// Runs `code` as a search and as an execute call, then checks both tools still work.
async fn both_then_healthy(
    pool: &Pool,
    code: &str,
) -> (
    Result<serde_json::Value, SandboxError>,
    Result<serde_json::Value, SandboxError>,
) {
    let host: Arc<dyn codemode_sandbox::Host> = Arc::new(Shared(TestHost::new()));
    let searched = pool.search(code, CancelToken::new()).await.map(value);
    let executed = pool
        .execute(code, host.clone(), CancelToken::new())
        .await
        .map(value);
    let healthy = pool
        .search(
            "async () => Object.keys(spec.paths).length",
            CancelToken::new(),
        )
        .await;
    assert_eq!(
        healthy.map(value),
        Ok(json!(2)),
        "search still works after {code}"
    );
    let healthy = pool
        .execute("async () => 'fine'", host, CancelToken::new())
        .await;
    assert_eq!(
        healthy.map(value),
        Ok(json!("fine")),
        "execute still works after {code}"
    );
    (searched, executed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_to_json_in_the_result_times_out() {
    let pool = pool(small_view(), 1);
    let code = "async () => [1, { toJSON() { for (;;) {} } }]";
    let (searched, executed) = both_then_healthy(&pool, code).await;
    let timeout = SandboxError::Timeout {
        limit: Duration::from_secs(2),
    };
    assert_eq!(searched, Err(timeout.clone()));
    assert_eq!(executed, Err(timeout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_times_out() {
    let pool = pool(small_view(), 1);
    let started = Instant::now();
    let (searched, executed) = both_then_healthy(&pool, "async () => { for (;;) {} }").await;
    let timeout = SandboxError::Timeout {
        limit: Duration::from_secs(2),
    };
    assert_eq!(searched, Err(timeout.clone()));
    assert_eq!(executed, Err(timeout));
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catching_the_interrupt_does_not_escape_the_timeout() {
    let pool = pool(small_view(), 1);
    let (searched, _) = both_then_healthy(
        &pool,
        "async () => { for (;;) { try { for (;;) {} } catch (e) {} } }",
    )
    .await;
    assert_eq!(
        searched,
        Err(SandboxError::Timeout {
            limit: Duration::from_secs(2)
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_runs_out_of_memory() {
    let pool = pool(small_view(), 1);
    let (searched, executed) = both_then_healthy(
        &pool,
        "async () => { let a = []; for (;;) a.push('x'.repeat(1e6)); }",
    )
    .await;
    let out_of_memory = SandboxError::OutOfMemory {
        limit_bytes: 64 << 20,
    };
    assert_eq!(searched, Err(out_of_memory.clone()));
    assert_eq!(executed, Err(out_of_memory));
}

/// One worker over the small spec, each call limited to 4 MiB and given two minutes.
fn four_mib_pool() -> Pool {
    let limits = Limits {
        memory_bytes: 4 << 20,
        timeout: Duration::from_secs(120),
        ..quick_limits()
    };
    let config = PoolConfig {
        workers: 1,
        search: limits.clone(),
        execute: limits,
        ..PoolConfig::default()
    };
    Pool::new(small_view(), config, tokio::runtime::Handle::current()).expect("the pool starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_making_cyclic_garbage_beyond_its_memory_limit_is_collected_in_time() {
    let pool = four_mib_pool();
    // 20,000 objects of 16 KiB each, every one its own cycle: about 80 times the limit of
    // garbage that reference counting alone never frees.
    let garbage = "async () => { let made = 0; for (let i = 0; i < 20000; i++) {
        const piece = { pad: 'x'.repeat(16384) + i }; piece.self = piece; made += 1; } return made; }";
    let kept = "async () => { const kept = []; for (;;) kept.push({ pad: 'x'.repeat(16384) + kept.length }); }";
    for _ in 0..2 {
        let made = pool.search(garbage, CancelToken::new()).await;
        assert_eq!(made.map(value), Ok(json!(20_000)));
        let held = pool.search(kept, CancelToken::new()).await;
        assert_eq!(
            held.map(value),
            Err(SandboxError::OutOfMemory {
                limit_bytes: 4 << 20
            })
        );
    }
}

/// The spec is out of the collector's walk (sealed), but cycles made by calls that point into
/// it must still be collected, and the spec must come through every collection whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cyclic_garbage_holding_the_spec_is_collected_and_the_spec_stays_whole() {
    let pool = four_mib_pool();
    // Each piece is a cycle through the spec, its paths and one operation's tags, so each
    // collection takes references to sealed objects away and gives them back.
    let garbage = "async () => { for (let i = 0; i < 20000; i++) {
        const piece = { spec, paths: spec.paths, tags: spec.paths['/zones'].get.tags,
                        pad: 'x'.repeat(16384) + i };
        piece.self = piece; } return Object.keys(spec.paths).length; }";
    let read = "async () => [spec.info.title, Object.keys(spec.paths),
        spec.paths['/zones/{zone_id}/dns_records'].post.operationId, spec.paths['/zones'].get.tags]";
    for _ in 0..3 {
        let made = pool.search(garbage, CancelToken::new()).await;
        assert_eq!(made.map(value), Ok(json!(2)));
        let spec = pool.search(read, CancelToken::new()).await;
        assert_eq!(
            spec.map(value),
            Ok(json!([
                "Small API",
                ["/zones", "/zones/{zone_id}/dns_records"],
                "dns-create",
                ["Zones"]
            ]))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catching_out_of_memory_still_reports_it() {
    let pool = pool(small_view(), 1);
    let (searched, _) = both_then_healthy(
        &pool,
        "async () => { const a = []; try { for (;;) a.push(new Array(1e5).fill(1)); } catch (e) { a.length = 0; throw new Error('gave up'); } }",
    )
    .await;
    assert_eq!(
        searched,
        Err(SandboxError::OutOfMemory {
            limit_bytes: 64 << 20
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_recursion_overflows_the_stack() {
    let pool = pool(small_view(), 1);
    let (searched, executed) = both_then_healthy(
        &pool,
        "async () => { const f = (n) => f(n + 1) + 1; return f(0); }",
    )
    .await;
    assert_eq!(searched, Err(SandboxError::StackOverflow));
    assert_eq!(executed, Err(SandboxError::StackOverflow));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_code_is_refused_before_running() {
    let pool = pool(small_view(), 1);
    let code = format!("async () => {{ /* {} */ return 1; }}", "x".repeat(70_000));
    let (searched, executed) = both_then_healthy(&pool, &code).await;
    let too_large = SandboxError::CodeTooLarge {
        bytes: code.len(),
        limit: 64 << 10,
    };
    assert_eq!(searched, Err(too_large.clone()));
    assert_eq!(executed, Err(too_large));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leftover_work_does_not_reach_the_next_call() {
    let pool = pool(small_view(), 1);
    let first = pool
        .search(
            "async () => {
                (function again() { Promise.resolve().then(again); const end = Date.now() + 20; while (Date.now() < end) {} })();
                return 'first';
            }",
            CancelToken::new(),
        )
        .await;
    assert_eq!(first.map(value), Ok(json!("first")));
    let second = pool
        .search(
            "async () => { const end = Date.now() + 200; let turns = 0; while (Date.now() < end) { await null; turns++; } return turns; }",
            CancelToken::new(),
        )
        .await;
    let turns = second
        .ok()
        .and_then(|outcome| value(outcome).as_u64())
        .unwrap_or(0);
    assert!(
        turns > 1_000,
        "only {turns} turns: the first call's jobs ran during the second"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_busy_loop_frees_the_worker_promptly() {
    let pool = pool(small_view(), 1);
    let cancel = CancelToken::new();
    let running = {
        let (pool, cancel) = (pool.clone(), cancel.clone());
        tokio::spawn(async move { pool.search("async () => { for (;;) {} }", cancel).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    cancel.cancel();
    assert_eq!(
        running.await.expect("the task finishes"),
        Err(SandboxError::Cancelled)
    );
    let next = pool.search("async () => 'next'", CancelToken::new()).await;
    assert_eq!(next.map(value), Ok(json!("next")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_call_is_cancelled() {
    let pool = pool(small_view(), 1);
    let abandoned = tokio::time::timeout(
        Duration::from_millis(100),
        pool.search("async () => { for (;;) {} }", CancelToken::new()),
    )
    .await;
    assert!(abandoned.is_err());
    let started = Instant::now();
    let next = pool.search("async () => 'next'", CancelToken::new()).await;
    assert_eq!(next.map(value), Ok(json!("next")));
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_run_in_parallel_up_to_the_worker_count() {
    let pool = pool(small_view(), 2);
    let busy = "async () => { const start = Date.now(); while (Date.now() < start + 300) {} return [start, Date.now()]; }";
    let (a, b) = tokio::join!(
        pool.search(busy, CancelToken::new()),
        pool.search(busy, CancelToken::new())
    );
    let span = |outcome: Result<codemode_sandbox::Outcome, SandboxError>| {
        let result = value(outcome.expect("the code runs"));
        (
            result[0].as_f64().unwrap_or(0.0),
            result[1].as_f64().unwrap_or(0.0),
        )
    };
    let ((start_a, end_a), (start_b, end_b)) = (span(a), span(b));
    assert!(
        start_a.max(start_b) < end_a.min(end_b),
        "the two calls did not overlap"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_too_large_for_memory_rejects_its_request_and_the_code_goes_on() {
    // Building and converting the 40 MB answer takes a while on a loaded machine; the test is
    // about memory, so its time limit is generous.
    let config = PoolConfig {
        workers: 1,
        execute: Limits {
            timeout: Duration::from_secs(60),
            ..PoolConfig::default().execute
        },
        ..PoolConfig::default()
    };
    let pool = Pool::new(small_view(), config, tokio::runtime::Handle::current())
        .expect("the pool starts");
    let host: Arc<dyn codemode_sandbox::Host> = Arc::new(Shared(TestHost::new()));
    // About 40 bytes of JSON per item: some 40 MB of envelope, far past 64 MiB as objects.
    let code = "async () => { let message; \
        try { await cloudflare.request({ method: 'GET', path: '/large/1000000' }); } \
        catch (e) { message = e.message; } \
        const small = await cloudflare.request({ method: 'GET', path: '/large/3' }); \
        return [message, small.result.length]; }";
    let outcome = pool
        .execute(code, host, CancelToken::new())
        .await
        .expect("the code catches the rejection and goes on");
    let result = value(outcome);
    let message = result[0].as_str().unwrap_or_default().to_string();
    assert!(
        message.starts_with(
            "cloudflare.request: the response is too large: as JavaScript values it does not \
             fit in the 64 MiB this call may use ([sandbox] memory_mib)"
        ),
        "{message}"
    );
    assert_eq!(result[1], json!(3));
}
