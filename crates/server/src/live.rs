//! Streams an `execute` call's console lines and request progress to the client as they happen.
//!
//! MCP logging is deprecated by SEP-2577 for the newest protocol version, but clients show
//! `notifications/message` live, so this module keeps sending it: on 2025 versions as the
//! session's `logging/setLevel` allows, on 2026-07-28 only when the request's `_meta` names a
//! log level (SEP-2575). Progress goes out whenever the request carries a progress token.
#![allow(deprecated)]

use std::sync::{Arc, Mutex, PoisonError};

use codemode_sandbox::LogLevel;
use rmcp::model::{
    LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken,
};
use rmcp::{Peer, RoleServer};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::call::Update;

/// The least severe level a session wants to see (`logging/setLevel`); shared per session.
#[derive(Clone, Default)]
pub struct LogThreshold(Arc<Mutex<Option<LoggingLevel>>>);

impl LogThreshold {
    /// Records the client's `logging/setLevel`.
    pub fn set(&self, level: LoggingLevel) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(level);
    }

    /// The lines a call of this session streams: from the level set, else every line.
    pub fn filter(&self) -> LogFilter {
        match *self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(level) => LogFilter::AtLeast(level),
            None => LogFilter::All,
        }
    }
}

/// Which console lines one call streams as `notifications/message`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LogFilter {
    /// None: on 2026-07-28, a request that names no log level in its `_meta`.
    Off,
    /// Those at this level or more severe.
    AtLeast(LoggingLevel),
    /// Every line: a 2025 session that never sent `logging/setLevel`.
    All,
}

impl LogFilter {
    /// The filter of a 2026-07-28 request, from the level its `_meta` names, if any.
    pub fn requested(level: Option<LoggingLevel>) -> LogFilter {
        level.map_or(LogFilter::Off, LogFilter::AtLeast)
    }

    fn allows(self, level: LoggingLevel) -> bool {
        match self {
            LogFilter::Off => false,
            LogFilter::AtLeast(min) => severity(level) >= severity(min),
            LogFilter::All => true,
        }
    }
}

/// Sends [`Update`]s in order from the sandbox to the client.
pub struct LiveUpdates {
    sender: mpsc::UnboundedSender<Update>,
    task: JoinHandle<()>,
}

impl LiveUpdates {
    /// Starts forwarding to `peer`; progress goes out only when the client sent a token.
    pub fn start(
        peer: Peer<RoleServer>,
        progress_token: Option<ProgressToken>,
        logs: LogFilter,
    ) -> Self {
        let (sender, mut updates) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut requests = 0u32;
            while let Some(update) = updates.recv().await {
                let sent = match update {
                    Update::Log(line) => {
                        let level = logging_level(line.level);
                        if !logs.allows(level) {
                            continue;
                        }
                        let data = json!(line.text);
                        peer.notify_logging_message(
                            LoggingMessageNotificationParam::new(level, data)
                                .with_logger("console"),
                        )
                        .await
                    }
                    Update::Request(message) => {
                        let Some(token) = progress_token.clone() else {
                            continue;
                        };
                        requests += 1;
                        let mut progress =
                            ProgressNotificationParam::new(token, f64::from(requests));
                        progress.message = Some(message);
                        peer.notify_progress(progress).await
                    }
                };
                if sent.is_err() {
                    break;
                }
            }
        });
        Self { sender, task }
    }

    /// A handle the sandbox host sends updates through.
    pub fn sender(&self) -> mpsc::UnboundedSender<Update> {
        self.sender.clone()
    }

    /// Waits until every update sent so far has gone out, so they arrive before the result.
    pub async fn finish(self) {
        drop(self.sender);
        let _ = self.task.await;
    }
}

fn logging_level(level: LogLevel) -> LoggingLevel {
    match level {
        LogLevel::Log | LogLevel::Info => LoggingLevel::Info,
        LogLevel::Warn => LoggingLevel::Warning,
        LogLevel::Error => LoggingLevel::Error,
    }
}

fn severity(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}
