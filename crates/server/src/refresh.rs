//! Keeps every upstream's spec current: reloads them on a schedule and on SIGHUP, and swaps in
//! those that changed. Calls already running finish on the specs they started on; an upstream
//! whose reload fails keeps the spec in service.

use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::task::JoinHandle;

use crate::call::{Refreshed, Runner};

/// What starts a refresh: the schedule and SIGHUP. Install it early, so a SIGHUP that arrives
/// while the spec first loads is kept for later rather than ending the process.
pub struct Triggers {
    every: Option<Duration>,
    hangup: Option<Signal>,
}

impl Triggers {
    /// Watches SIGHUP and, when `every` is set, the clock.
    pub fn install(every: Option<Duration>) -> Triggers {
        let hangup = signal(SignalKind::hangup())
            .inspect_err(|error| {
                tracing::warn!(%error, "cannot watch SIGHUP; the spec refreshes on schedule only");
            })
            .ok();
        Triggers { every, hangup }
    }

    /// Refreshes `runner`'s specs at each trigger, until the process ends.
    pub fn spawn(self, runner: Arc<Runner>) -> JoinHandle<()> {
        let Triggers { every, mut hangup } = self;
        tokio::spawn(async move {
            let mut schedule = every
                .map(|every| tokio::time::interval_at(tokio::time::Instant::now() + every, every));
            loop {
                let trigger = tokio::select! {
                    _ = tick(schedule.as_mut()) => "schedule",
                    Some(()) = hang_up(hangup.as_mut()) => "SIGHUP",
                };
                refresh(&runner, trigger).await;
            }
        })
    }
}

async fn tick(schedule: Option<&mut tokio::time::Interval>) {
    match schedule {
        Some(schedule) => {
            schedule.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn hang_up(hangup: Option<&mut Signal>) -> Option<()> {
    match hangup {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}

async fn refresh(runner: &Runner, trigger: &'static str) {
    for (upstream, outcome) in runner.refresh().await {
        match outcome {
            Ok(Refreshed::Swapped(operations)) => tracing::info!(
                trigger,
                upstream,
                operations,
                "spec refreshed: new calls use the new spec"
            ),
            Ok(Refreshed::Unchanged) => tracing::info!(trigger, upstream, "spec unchanged"),
            Ok(Refreshed::BuiltIn) => {
                tracing::debug!(trigger, upstream, "the built-in spec does not refresh");
            }
            Err(error) => tracing::warn!(
                trigger,
                upstream,
                %error,
                "spec refresh failed; the spec in service stays"
            ),
        }
    }
}
