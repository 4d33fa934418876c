//! How a governed call ended, free of any transport: what the code returned, or why it did not,
//! with its console output. The transports turn it into their own replies.

use std::sync::OnceLock;

use codemode_sandbox::{JsonText, LogLevel, LogLine, Truncation};
use serde_json::Value;

use crate::call::error::CallError;

/// The end of one tool call. It is final once built: the texts the agent reads are rendered
/// on first use and kept, so the result and the audit count the same rendering.
#[derive(Debug)]
pub struct CallOutcome {
    /// What the call produced, or why it produced nothing.
    pub result: Result<Returned, CallError>,
    /// Every console line the code wrote, in order.
    pub logs: Vec<LogLine>,
    /// What the server notes about the call (never the code's own words), in order.
    notes: Vec<String>,
    texts: OnceLock<Vec<String>>,
}

/// What a call that did not fail produced.
#[derive(Debug)]
pub enum Returned {
    /// The code's return value, as JSON text, and how it was cut to fit.
    Value {
        /// The value.
        value: JsonText,
        /// Set when the value was cut to the result limit.
        truncation: Option<Truncation>,
    },
    /// The call stopped at requests that need a person's approval; the body says which and how.
    ApprovalRequired(Value),
}

impl CallOutcome {
    /// A call that ended with `result`, after writing `logs`.
    pub fn new(result: Result<Returned, CallError>, logs: Vec<LogLine>) -> CallOutcome {
        CallOutcome {
            result,
            logs,
            notes: Vec::new(),
            texts: OnceLock::new(),
        }
    }

    /// The same outcome with `notes` added after the ones it has.
    pub fn with_notes(mut self, notes: impl IntoIterator<Item = String>) -> CallOutcome {
        self.notes.extend(notes);
        self.texts = OnceLock::new();
        self
    }

    /// A call that ended with `error`, after writing `logs`.
    pub fn failed(error: impl Into<CallError>, logs: Vec<LogLine>) -> CallOutcome {
        CallOutcome::new(Err(error.into()), logs)
    }

    /// Whether the agent should read this as a tool error.
    pub fn is_error(&self) -> bool {
        self.result.is_err()
    }

    /// The texts the agent reads, in order: the value or the error, the console output, notes.
    pub fn texts(&self) -> &[String] {
        self.texts.get_or_init(|| self.render())
    }

    /// The texts the agent reads, rendered once.
    pub fn into_texts(mut self) -> Vec<String> {
        self.texts.take().unwrap_or_else(|| self.render())
    }

    /// Characters of text the agent reads, for the audit log.
    pub fn chars(&self) -> u64 {
        self.texts()
            .iter()
            .map(|text| text.chars().count() as u64)
            .sum()
    }

    fn render(&self) -> Vec<String> {
        let mut texts = vec![match &self.result {
            Ok(Returned::Value { value, .. }) => value.as_str().to_owned(),
            Ok(Returned::ApprovalRequired(body)) => body.to_string(),
            Err(error) => error.to_string(),
        }];
        if !self.logs.is_empty() {
            texts.push(console_block(&self.logs));
        }
        if let Ok(Returned::Value {
            truncation: Some(truncation),
            ..
        }) = &self.result
        {
            texts.push(format!("Note: {truncation}"));
        }
        texts.extend(self.notes.iter().map(|note| format!("Note: {note}")));
        texts
    }
}

/// The console lines as one text block.
fn console_block(logs: &[LogLine]) -> String {
    let mut text = String::from("Console output:");
    for line in logs {
        text.push('\n');
        match line.level {
            LogLevel::Log | LogLevel::Info => {}
            LogLevel::Warn => text.push_str("[warn] "),
            LogLevel::Error => text.push_str("[error] "),
        }
        text.push_str(&line.text);
    }
    text
}
