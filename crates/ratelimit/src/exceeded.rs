//! The refusal of a call over a limit, worded so an agent knows what to do next.

use chrono::{DateTime, SecondsFormat, Utc};

/// Which limit refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `search` calls per session.
    SearchPerSession,
    /// `execute` calls per session.
    ExecutePerSession,
    /// `execute` calls per user per UTC day.
    ExecutePerSubjectPerDay,
    /// Calls running at once per user.
    ConcurrentPerSubject,
    /// Characters of code per call.
    CodeLength,
    /// Refused calls per user per hour.
    RefusalsPerSubjectPerHour,
}

/// When a refused call could succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    /// When the count returns to zero, at this instant.
    At(DateTime<Utc>),
    /// When one of the user's running calls finishes.
    WhenACallFinishes,
    /// Not within this session.
    InANewSession,
    /// Never: the call itself must change.
    Never,
}

/// A call refused because it would go over `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("limit reached: {} ({}). {}", self.name(), self.usage(), self.advice())]
pub struct LimitExceeded {
    /// The limit.
    pub limit: Limit,
    /// Its configured value.
    pub max: u64,
    /// The count when the call was refused: calls made or running, or characters of code.
    pub count: u64,
    /// When the call could succeed.
    pub resets: Reset,
}

impl LimitExceeded {
    /// The limit in words, e.g. `10 execute calls per session`.
    pub fn name(&self) -> String {
        let max = self.max;
        match self.limit {
            Limit::SearchPerSession => format!("{max} search calls per session"),
            Limit::ExecutePerSession => format!("{max} execute calls per session"),
            Limit::ExecutePerSubjectPerDay => format!("{max} execute calls per user per UTC day"),
            Limit::ConcurrentPerSubject => format!("{max} concurrent calls per user"),
            Limit::CodeLength => format!("code of at most {max} characters"),
            Limit::RefusalsPerSubjectPerHour => {
                format!("{max} refused calls per user per hour")
            }
        }
    }

    /// The count in words, e.g. `10 used`.
    fn usage(&self) -> String {
        let count = self.count;
        match self.limit {
            Limit::ConcurrentPerSubject => format!("{count} running"),
            Limit::CodeLength => format!("this code has {count}"),
            Limit::RefusalsPerSubjectPerHour => format!("{count} refused"),
            _ => format!("{count} used"),
        }
    }

    /// What the caller can do about it.
    fn advice(&self) -> String {
        match self.resets {
            Reset::At(at) => {
                let at = at.to_rfc3339_opts(SecondsFormat::Secs, true);
                if self.limit == Limit::RefusalsPerSubjectPerHour {
                    format!(
                        "Every call is refused until {at}; retry after then, once you have fixed \
                         what got the earlier calls refused."
                    )
                } else {
                    format!("It resets at {at}.")
                }
            }
            Reset::WhenACallFinishes => {
                "A slot frees when a running call finishes; retry after one returns.".to_string()
            }
            Reset::InANewSession => "It does not reset within this session; work with the results \
                 you have, or ask the user to start a new session."
                .to_string(),
            Reset::Never => {
                "Shorten the code: fetch, filter and return only what you need.".to_string()
            }
        }
    }
}

/// Refuses `code` longer than `max_chars` characters.
pub fn check_code_length(code: &str, max_chars: u64) -> Result<(), LimitExceeded> {
    let chars = u64::try_from(code.chars().count()).unwrap_or(u64::MAX);
    if chars <= max_chars {
        return Ok(());
    }
    Err(LimitExceeded {
        limit: Limit::CodeLength,
        max: max_chars,
        count: chars,
        resets: Reset::Never,
    })
}
