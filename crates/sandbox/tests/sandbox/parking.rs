//! Calls waiting on their host hold no worker; the queue is bounded, its time counts toward a
//! call's limit, and cancelling stops a call wherever it is.

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::common::{Shared, TestHost, quick_limits, small_view, value};
use codemode_sandbox::{CancelToken, Host, Outcome, Pool, PoolConfig, SandboxError};
use serde_json::json;

/// A pool of one worker with room for `queue` waiting calls; `search` and `execute` time
/// out after the given seconds.
fn one_worker(queue: usize, search_secs: u64, execute_secs: u64) -> Pool {
    one_worker_with(
        queue,
        PoolConfig::default().executes,
        search_secs,
        execute_secs,
    )
}

/// As [`one_worker`], with at most `executes` executes in progress.
fn one_worker_with(queue: usize, executes: usize, search_secs: u64, execute_secs: u64) -> Pool {
    let limits = |secs| codemode_sandbox::Limits {
        timeout: Duration::from_secs(secs),
        ..quick_limits()
    };
    let config = PoolConfig {
        workers: 1,
        queue,
        executes,
        search: limits(search_secs),
        execute: limits(execute_secs),
        ..PoolConfig::default()
    };
    Pool::new(small_view(), config, tokio::runtime::Handle::current()).expect("the pool starts")
}

fn host_of(host: &Arc<TestHost>) -> Arc<dyn Host> {
    Arc::new(Shared(host.clone()))
}

/// Starts `code` as an execute call on its own task.
fn spawn_execute(
    pool: &Pool,
    host: &Arc<TestHost>,
    code: &'static str,
    cancel: CancelToken,
) -> tokio::task::JoinHandle<Result<Outcome, SandboxError>> {
    let (pool, host) = (pool.clone(), host_of(host));
    tokio::spawn(async move { pool.execute(code, host, cancel).await })
}

/// Waits until `host` has seen `count` requests in flight at once.
async fn until_in_flight(host: &TestHost, count: usize) {
    while host.in_flight.load(Ordering::SeqCst) < count {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until the code running on `host` has logged `text`.
async fn until_logged(host: &TestHost, text: &str) {
    while !host.log_texts().iter().any(|line| line == text) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Code that says it started, then keeps its worker busy until stopped.
const BUSY: &str = "async () => { console.log('started'); for (;;) {} }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_run_while_executes_wait_on_a_host_that_never_answers() {
    let (pool, host) = (one_worker(8, 10, 10), TestHost::new());
    let hung: Vec<_> = (0..3)
        .map(|_| {
            spawn_execute(
                &pool,
                &host,
                "async () => cloudflare.request({ method: 'GET', path: '/hang' })",
                CancelToken::new(),
            )
        })
        .collect();
    until_in_flight(&host, 3).await;
    for _ in 0..5 {
        let searched = pool
            .search("async () => Object.keys(spec.paths)", CancelToken::new())
            .await;
        assert_eq!(
            searched.map(value),
            Ok(json!(["/zones", "/zones/{zone_id}/dns_records"]))
        );
    }
    assert!(
        hung.iter().all(|call| !call.is_finished()),
        "the searches ran while the executes were still waiting"
    );
    for call in hung {
        call.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_executes_on_one_worker_wait_on_their_host_at_the_same_time() {
    let (pool, host) = (one_worker(64, 10, 10), TestHost::new());
    // Each request answers only once all twenty are in flight together, which one worker
    // running calls one after another could never reach before the calls time out.
    let calls: Vec<_> = (0..20)
        .map(|_| {
            spawn_execute(
                &pool,
                &host,
                "async () => (await cloudflare.request({ method: 'GET', path: '/together', query: { count: 20 } })).success",
                CancelToken::new(),
            )
        })
        .collect();
    for call in calls {
        let outcome = call.await.expect("the task finishes");
        assert_eq!(outcome.map(value), Ok(json!(true)));
    }
    assert_eq!(host.most_in_flight.load(Ordering::SeqCst), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_a_call_at_once_and_keeps_serving() {
    let (pool, host) = (one_worker(1, 10, 10), TestHost::new());
    let busy = CancelToken::new();
    let running = spawn_execute(&pool, &host, BUSY, busy.clone());
    until_logged(&host, "started").await;
    let mut queued = pin!(pool.search("async () => 'queued'", CancelToken::new()));
    assert!(futures::poll!(queued.as_mut()).is_pending());
    let refused = pool
        .search("async () => 'refused'", CancelToken::new())
        .await;
    assert_eq!(refused, Err(SandboxError::Busy { queued: 1 }));
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("the sandbox is busy")
    );
    busy.cancel();
    assert_eq!(
        running.await.expect("the task finishes"),
        Err(SandboxError::Cancelled)
    );
    assert_eq!(queued.await.map(value), Ok(json!("queued")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_waiting_in_the_queue_counts_toward_the_limit() {
    let (pool, host) = (one_worker(4, 1, 30), TestHost::new());
    let busy = CancelToken::new();
    let running = spawn_execute(&pool, &host, BUSY, busy.clone());
    until_logged(&host, "started").await;
    let mut queued = pin!(pool.search("async () => 'too late'", CancelToken::new()));
    assert!(futures::poll!(queued.as_mut()).is_pending());
    // Past the search's one-second limit before a worker is free to start it.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    busy.cancel();
    assert_eq!(
        running.await.expect("the task finishes"),
        Err(SandboxError::Cancelled)
    );
    assert_eq!(
        queued.await,
        Err(SandboxError::Timeout {
            limit: Duration::from_secs(1)
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_call_out_of_time_is_answered_while_the_worker_is_still_busy() {
    let (pool, host) = (one_worker(4, 1, 30), TestHost::new());
    let busy = CancelToken::new();
    let running = spawn_execute(&pool, &host, BUSY, busy.clone());
    until_logged(&host, "started").await;
    let queued = pool
        .search("async () => 'too late'", CancelToken::new())
        .await;
    assert_eq!(
        queued,
        Err(SandboxError::Timeout {
            limit: Duration::from_secs(1)
        })
    );
    assert!(!running.is_finished(), "the busy call is still running");
    busy.cancel();
    assert_eq!(
        running.await.expect("the task finishes"),
        Err(SandboxError::Cancelled)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executes_past_the_cap_are_refused_at_once_and_searches_still_run() {
    let (pool, host) = (one_worker_with(8, 2, 10, 10), TestHost::new());
    let hang = "async () => cloudflare.request({ method: 'GET', path: '/hang' })";
    let waiting: Vec<_> = (0..2)
        .map(|_| spawn_execute(&pool, &host, hang, CancelToken::new()))
        .collect();
    until_in_flight(&host, 2).await;
    let refused = pool
        .execute("async () => 'refused'", host_of(&host), CancelToken::new())
        .await;
    assert_eq!(refused, Err(SandboxError::TooManyExecutes { executes: 2 }));
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("the sandbox is busy")
    );
    let searched = pool.search("async () => 'free'", CancelToken::new()).await;
    assert_eq!(searched.map(value), Ok(json!("free")));
    for call in waiting {
        call.abort();
    }
    // Aborting a call's task drops its future, which cancels it and frees its place.
    until_in_flight_is(&host, 0).await;
    let next = pool
        .execute("async () => 'next'", host_of(&host), CancelToken::new())
        .await;
    assert_eq!(next.map(value), Ok(json!("next")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_queued_call_answers_it_while_the_worker_is_still_busy() {
    let (pool, host) = (one_worker(4, 10, 10), TestHost::new());
    let busy = CancelToken::new();
    let running = spawn_execute(&pool, &host, BUSY, busy.clone());
    until_logged(&host, "started").await;
    let cancel = CancelToken::new();
    let mut queued = pin!(pool.search("async () => 'never'", cancel.clone()));
    assert!(futures::poll!(queued.as_mut()).is_pending());
    cancel.cancel();
    assert_eq!(queued.await, Err(SandboxError::Cancelled));
    assert!(!running.is_finished(), "the busy call is still running");
    busy.cancel();
    assert_eq!(
        running.await.expect("the task finishes"),
        Err(SandboxError::Cancelled)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_parked_call_stops_it_and_its_request() {
    let (pool, host) = (one_worker(4, 10, 10), TestHost::new());
    let cancel = CancelToken::new();
    let parked = spawn_execute(
        &pool,
        &host,
        "async () => cloudflare.request({ method: 'GET', path: '/hang' })",
        cancel.clone(),
    );
    until_in_flight(&host, 1).await;
    cancel.cancel();
    assert_eq!(
        parked.await.expect("the task finishes"),
        Err(SandboxError::Cancelled)
    );
    // The worker aborts the hanging request once it sees the cancellation.
    until_in_flight_is(&host, 0).await;
    let next = pool
        .execute("async () => 'next'", host_of(&host), CancelToken::new())
        .await;
    assert_eq!(next.map(value), Ok(json!("next")));
}

/// Waits until `host` has exactly `count` requests in flight.
async fn until_in_flight_is(host: &TestHost, count: usize) {
    while host.in_flight.load(Ordering::SeqCst) != count {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_waiting_for_a_person_does_not_count_toward_the_limit() {
    let (pool, host) = (one_worker(4, 10, 1), TestHost::new());
    let outcome = pool
        .execute(
            "async () => (await cloudflare.request({ method: 'POST', path: '/person', query: { ms: 1500 } })).result",
            host_of(&host),
            CancelToken::new(),
        )
        .await;
    assert_eq!(outcome.map(value), Ok(json!("approved")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_id_lookup_holds_no_worker() {
    let (pool, host) = (one_worker(4, 10, 10), TestHost::new());
    // TestHost::new has no account, so the lookup never finishes.
    let waiting = spawn_execute(&pool, &host, "async () => accountId", CancelToken::new());
    while host.account_lookups.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let searched = pool.search("async () => 'free'", CancelToken::new()).await;
    assert_eq!(searched.map(value), Ok(json!("free")));
    assert!(!waiting.is_finished());
    waiting.abort();
}
