//! How a governed call ended, free of any transport: what the code returned, or why it did not,
//! with its console output. The transports turn it into their own replies.

use codemode_sandbox::{LogLevel, LogLine, Truncation};
use serde_json::{Value, json};

use crate::call::error::CallError;

/// The end of one tool call.
#[derive(Debug)]
pub struct CallOutcome {
    /// What the call produced, or why it produced nothing.
    pub result: Result<Returned, CallError>,
    /// Every console line the code wrote, in order.
    pub logs: Vec<LogLine>,
}

/// What a call that did not fail produced.
#[derive(Debug)]
pub enum Returned {
    /// The code's return value, as JSON, and how it was cut to fit.
    Value {
        /// The value.
        value: Value,
        /// Set when the value was cut to the result limit.
        truncation: Option<Truncation>,
    },
    /// The call stopped at requests that need a person's approval; the body says which and how.
    ApprovalRequired(Value),
}

impl CallOutcome {
    /// A call that ended with `error`, after writing `logs`.
    pub fn failed(error: impl Into<CallError>, logs: Vec<LogLine>) -> CallOutcome {
        CallOutcome {
            result: Err(error.into()),
            logs,
        }
    }

    /// Whether the agent should read this as a tool error.
    pub fn is_error(&self) -> bool {
        self.result.is_err()
    }

    /// The texts the agent reads, in order: the value or the error, the console output, notes.
    pub fn texts(&self) -> Vec<String> {
        let mut texts = vec![match &self.result {
            Ok(Returned::Value { value, .. }) => value.to_string(),
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
        texts
    }

    /// The value and console output as one JSON document, for clients that read structure.
    pub fn structured(&self) -> Option<Value> {
        match &self.result {
            Ok(Returned::Value { value, .. }) => Some(json!({"result": value, "logs": self.logs})),
            Ok(Returned::ApprovalRequired(body)) => {
                Some(json!({"result": body, "logs": self.logs}))
            }
            Err(_) => None,
        }
    }

    /// Characters of text the agent reads, for the audit log.
    pub fn chars(&self) -> u64 {
        self.texts()
            .iter()
            .map(|text| text.chars().count() as u64)
            .sum()
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
