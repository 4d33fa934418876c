//! Rate-limit counts in Redis: two limiters (two replicas) count against one limit.

use std::sync::Arc;

use codemode_ratelimit::{Denied, Limit, Limiter, Limits, SystemClock, Tool};
use codemode_stores::{RedisLimitStore, RedisLink};

use crate::{server_url, unique};

async fn replica(prefix: &str, limits: Limits) -> Limiter {
    let link = RedisLink::connect(&server_url("CODEMODE_TEST_REDIS_URL"), prefix)
        .await
        .expect("Redis answers");
    Limiter::with_store(
        limits,
        Arc::new(RedisLimitStore::new(link)),
        Arc::new(SystemClock),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_daily_quota_is_the_sum_over_replicas() {
    let prefix = format!("{}:", unique("quota"));
    let limits = Limits {
        execute_per_subject_per_day: 5,
        ..Limits::default()
    };
    let (a, b) = (
        replica(&prefix, limits).await,
        replica(&prefix, limits).await,
    );
    let mut let_through = 0;
    let mut refused = None;
    for call in 0..8 {
        let replica = if call % 2 == 0 { &a } else { &b };
        match replica
            .begin("alice", None, Tool::Execute, "async () => 1")
            .await
        {
            Ok(_permit) => let_through += 1,
            Err(Denied::Limit(exceeded)) => refused = Some(exceeded),
            Err(Denied::Store(error)) => panic!("Redis failed: {error}"),
        }
    }
    assert_eq!(let_through, 5, "five calls between both replicas");
    let refused = refused.expect("the sixth call is refused");
    assert_eq!(refused.limit, Limit::ExecutePerSubjectPerDay);
    assert_eq!((refused.max, refused.count), (5, 5));
    b.begin("bob", None, Tool::Execute, "async () => 1")
        .await
        .expect("another user has a quota of his own");
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_replicas_never_pass_the_limit() {
    let prefix = format!("{}:", unique("race"));
    let limits = Limits {
        execute_per_subject_per_day: 10,
        concurrent_per_subject: 1_000,
        ..Limits::default()
    };
    let a = Arc::new(replica(&prefix, limits).await);
    let b = Arc::new(replica(&prefix, limits).await);
    let calls: Vec<_> = (0..40)
        .map(|call| {
            let replica = if call % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                replica
                    .begin("carol", None, Tool::Execute, "async () => 1")
                    .await
                    .map(drop)
            })
        })
        .collect();
    let mut let_through = 0;
    for call in calls {
        if call.await.expect("the task ran").is_ok() {
            let_through += 1;
        }
    }
    assert_eq!(let_through, 10);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_freed_slot_is_free_on_the_other_replica() {
    let prefix = format!("{}:", unique("slots"));
    let limits = Limits {
        concurrent_per_subject: 1,
        ..Limits::default()
    };
    let (a, b) = (
        replica(&prefix, limits).await,
        replica(&prefix, limits).await,
    );
    let held = a
        .begin("dave", None, Tool::Search, "async () => 1")
        .await
        .expect("the first slot");
    let Err(Denied::Limit(busy)) = b.begin("dave", None, Tool::Search, "async () => 1").await
    else {
        panic!("the slot is held on the other replica");
    };
    assert_eq!(busy.limit, Limit::ConcurrentPerSubject);
    drop(held);
    // The release runs in the background: wait for it, a bounded number of times.
    for _ in 0..200 {
        if b.begin("dave", None, Tool::Search, "async () => 1")
            .await
            .is_ok()
        {
            return;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the slot was never given back");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_redis_is_named_without_its_password() {
    let refused = RedisLink::connect("redis://127.0.0.1:1", "x:").await;
    let Err(error) = refused else {
        panic!("nothing listens on port 1");
    };
    assert!(error.to_string().contains("cannot reach Redis"), "{error}");
    let hidden = RedisLink::connect("redis://:pw-90210@127.0.0.1:1", "x:").await;
    let message = hidden.err().expect("refused").to_string();
    assert!(!message.contains("pw-90210"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_are_refused_not_let_through_when_redis_stops() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let mut redis = std::process::Command::new("redis-server")
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server starts (tests/stores/with-servers.sh installs it)");
    let url = format!("redis://127.0.0.1:{port}");
    let mut link = None;
    for _ in 0..100 {
        if let Ok(connected) = RedisLink::connect(&url, "stops:").await {
            link = Some(connected);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let limiter = Limiter::with_store(
        Limits::default(),
        Arc::new(RedisLimitStore::new(
            link.expect("the private Redis answers"),
        )),
        Arc::new(SystemClock),
    );
    limiter
        .begin("erin", None, Tool::Execute, "async () => 1")
        .await
        .expect("counted while Redis runs");
    redis.kill().expect("stopped");
    redis.wait().expect("reaped");
    let refused = limiter
        .begin("erin", None, Tool::Execute, "async () => 1")
        .await
        .map(drop);
    let Err(Denied::Store(unavailable)) = refused else {
        panic!("a call with no store to count it must be refused: {refused:?}");
    };
    assert!(
        unavailable
            .to_string()
            .contains("rate-limit store is unavailable"),
        "{unavailable}"
    );
}
