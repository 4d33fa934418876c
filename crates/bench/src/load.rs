//! Load on the real server through raw MCP sessions: throughput, head-of-line blocking and
//! session churn. Every loop is bounded in calls and in time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use tokio::sync::{Barrier, Mutex};

use crate::raw_mcp::RawSession;
use crate::stats::Summary;
use crate::workload::{SLOW_REQUEST, SMALL_SEARCH};

/// The longest one call under load may take before it counts as an error.
const CALL_LIMIT: Duration = Duration::from_secs(40);

/// The longest the head-of-line probe waits for one search before calling it unanswered.
const PROBE_LIMIT: Duration = Duration::from_secs(10);

/// A tool and its code.
pub type ToolCall = (&'static str, &'static str);

/// What a load run measured.
pub struct Throughput {
    /// Calls answered without error, per second of the run.
    pub per_sec: f64,
    /// Latency of the answered calls.
    pub latency: Summary,
    /// Calls that failed (transport, JSON-RPC or tool error, or over the call limit).
    pub errors: usize,
    /// The first failure, to say why.
    pub first_error: Option<String>,
}

/// `sessions` sessions, each on its own connection, call one after another cycling through
/// `calls` until `limit` calls were started in all or `duration` is over; then they close.
pub async fn throughput(
    addr: SocketAddr,
    sessions: usize,
    calls: &'static [ToolCall],
    limit: usize,
    duration: Duration,
) -> anyhow::Result<Throughput> {
    let mut opened = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        opened.push(RawSession::open(addr).await?);
    }
    let started_calls = Arc::new(AtomicUsize::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let barrier = Arc::new(Barrier::new(sessions + 1));
    let mut tasks = Vec::with_capacity(sessions);
    for (index, mut session) in opened.into_iter().enumerate() {
        let (started_calls, first_error, barrier) =
            (started_calls.clone(), first_error.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let deadline = Instant::now() + duration;
            let (mut samples, mut errors) = (Vec::new(), 0usize);
            for k in index.. {
                if Instant::now() >= deadline
                    || started_calls.fetch_add(1, Ordering::Relaxed) >= limit
                {
                    break;
                }
                let (tool, code) = calls[k % calls.len()];
                let began = Instant::now();
                match tokio::time::timeout(CALL_LIMIT, session.call(tool, code)).await {
                    Ok(Ok(_)) => samples.push(began.elapsed()),
                    failed => {
                        errors += 1;
                        let why = match failed {
                            Ok(Err(error)) => format!("{error:#}"),
                            _ => format!("no answer within {CALL_LIMIT:?}"),
                        };
                        first_error.lock().await.get_or_insert(why);
                        match RawSession::open(addr).await {
                            Ok(fresh) => session = fresh,
                            Err(_) => break,
                        }
                    }
                }
            }
            (samples, errors, session)
        }));
    }
    barrier.wait().await;
    let began = Instant::now();
    let (mut samples, mut errors, mut sessions) = (Vec::new(), 0, Vec::new());
    for task in tasks {
        let (s, e, session) = task.await?;
        samples.extend(s);
        errors += e;
        sessions.push(session);
    }
    let elapsed = began.elapsed();
    for session in sessions {
        session.close().await?;
    }
    let first_error = first_error.lock().await.take();
    Ok(Throughput {
        per_sec: samples.len() as f64 / elapsed.as_secs_f64(),
        latency: Summary::of(samples),
        errors,
        first_error,
    })
}

/// What a probe session saw while other sessions waited on the slow API.
pub struct HeadOfLine {
    /// Sessions each waiting on the slow API.
    pub waiting: usize,
    /// The probe's search latency before the load.
    pub usual: Summary,
    /// The probe's search latency under the load (answered calls only).
    pub during: Summary,
    /// Set when a probe search got no answer within the probe limit.
    pub unanswered: Option<Duration>,
    /// Slow executes that finished without error while the probe ran.
    pub slow_done: usize,
    /// Slow executes that failed (for instance, refused as busy).
    pub slow_errors: usize,
    /// The first failure of a slow execute, to say why.
    pub first_slow_error: Option<String>,
}

/// While `waiting` sessions each call the slow API in a loop, a probe session searches for
/// `window` (a search already sent when it closes is waited for, up to 10 s). The slow loops are dropped at the end; the server should be stopped after this,
/// since calls it queued may still be running.
pub async fn head_of_line(
    addr: SocketAddr,
    waiting: usize,
    window: Duration,
    usual_calls: usize,
) -> anyhow::Result<HeadOfLine> {
    let mut probe = RawSession::open(addr).await?;
    let mut usual = Vec::with_capacity(usual_calls);
    for _ in 0..usual_calls {
        let began = Instant::now();
        probe.call("search", SMALL_SEARCH).await?;
        usual.push(began.elapsed());
    }
    let opened: Vec<RawSession> = futures::stream::iter(0..waiting)
        .map(|_| RawSession::open(addr))
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let first_slow_error = Arc::new(Mutex::new(None::<String>));
    let slow: Vec<_> = opened
        .into_iter()
        .map(|mut session| {
            let (stop, done, failed, first) = (
                stop.clone(),
                done.clone(),
                failed.clone(),
                first_slow_error.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match session.call("execute", SLOW_REQUEST).await {
                        Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                        Err(error) => {
                            first.lock().await.get_or_insert(format!("{error:#}"));
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })
        })
        .collect();
    // Let every slow call reach the server before probing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let deadline = Instant::now() + window;
    let (mut during, mut unanswered) = (Vec::new(), None);
    while Instant::now() < deadline {
        let began = Instant::now();
        match tokio::time::timeout(PROBE_LIMIT, probe.call("search", SMALL_SEARCH)).await {
            Ok(answer) => {
                answer?;
                during.push(began.elapsed());
            }
            Err(_) => {
                unanswered = Some(began.elapsed());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for task in slow {
        task.abort();
    }
    let first_slow_error = first_slow_error.lock().await.take();
    Ok(HeadOfLine {
        waiting,
        usual: Summary::of(usual),
        during: Summary::of(during),
        unanswered,
        slow_done: done.load(Ordering::Relaxed),
        slow_errors: failed.load(Ordering::Relaxed),
        first_slow_error,
    })
}

/// What opening and closing many sessions measured.
pub struct Churn {
    /// Sessions opened, used for one search and closed.
    pub sessions: usize,
    /// Sessions per second.
    pub per_sec: f64,
    /// Sessions that failed somewhere.
    pub errors: usize,
}

/// Opens `sessions` sessions, 10 at a time, each making one small search before closing.
pub async fn churn(addr: SocketAddr, sessions: usize, duration: Duration) -> Churn {
    let began = Instant::now();
    let deadline = began + duration;
    let outcomes: Vec<anyhow::Result<()>> = futures::stream::iter(0..sessions)
        .map(|_| async move {
            anyhow::ensure!(Instant::now() < deadline, "out of time");
            let mut session = RawSession::open(addr).await?;
            session.call("search", SMALL_SEARCH).await?;
            session.close().await
        })
        .buffer_unordered(10)
        .collect()
        .await;
    let errors = outcomes.iter().filter(|o| o.is_err()).count();
    Churn {
        sessions: outcomes.len() - errors,
        per_sec: (outcomes.len() - errors) as f64 / began.elapsed().as_secs_f64(),
        errors,
    }
}
