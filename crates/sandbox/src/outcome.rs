//! What a finished call hands back: its JSON result, what was cut from it, and its console.

use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// The result of a call that ran to completion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The returned value as JSON text (`undefined` becomes null), cut to the result limit.
    pub result: JsonText,
    /// Whether the code returned `undefined`, as a forgotten `return` or `await` does.
    pub undefined: bool,
    /// Present when `result` was cut to fit.
    pub truncation: Option<Truncation>,
    /// Console lines, in the order they were written.
    pub logs: Vec<LogLine>,
}

/// JSON text exactly as the sandbox wrote it, checked to be one valid JSON value.
///
/// It is kept as text so a result goes out as the engine rendered it, without being parsed
/// and written again: key order, number forms and escapes (a lone surrogate as `\ud800`) are
/// what `JSON.stringify` gave.
#[derive(Debug, Clone)]
pub struct JsonText(Box<RawValue>);

impl JsonText {
    /// Checks that `text` is one JSON value and keeps it.
    pub fn new(text: String) -> Result<JsonText, serde_json::Error> {
        RawValue::from_string(text).map(JsonText)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The JSON parsed into a value; fails only on a string serde_json cannot hold (a lone
    /// surrogate).
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_str(self.as_str())
    }
}

impl PartialEq for JsonText {
    fn eq(&self, other: &JsonText) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Display for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for JsonText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// One console line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// Which console method wrote it.
    pub level: LogLevel,
    /// The arguments, formatted and joined by spaces.
    pub text: String,
}

/// The console method a line came from (`console.debug` counts as `Log`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// `console.log` and `console.debug`.
    Log,
    /// `console.info`.
    Info,
    /// `console.warn`.
    Warn,
    /// `console.error`.
    Error,
}

impl LogLevel {
    /// The level named by a console method, if it is one.
    pub(crate) fn from_method(name: &str) -> Option<LogLevel> {
        match name {
            "log" => Some(LogLevel::Log),
            "info" => Some(LogLevel::Info),
            "warn" => Some(LogLevel::Warn),
            "error" => Some(LogLevel::Error),
            _ => None,
        }
    }
}

/// How a result was cut to fit the result limit. Every cut is also marked in the JSON
/// itself with "…".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Truncation {
    /// Characters the whole result's JSON has, or a lower bound when `full_is_lower_bound`.
    pub full_chars: u64,
    /// True when the whole result was too big to measure and `full_chars` is a lower bound.
    pub full_is_lower_bound: bool,
    /// Characters of JSON returned.
    pub shown_chars: u64,
    /// Array items left out.
    pub omitted_items: u64,
    /// Object keys left out.
    pub omitted_keys: u64,
    /// String characters left out.
    pub omitted_chars: u64,
}

impl fmt::Display for Truncation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let full = if self.full_is_lower_bound {
            format!("more than {}", grouped(self.full_chars))
        } else {
            grouped(self.full_chars)
        };
        write!(
            f,
            "Result truncated: showing {} of {full} characters of JSON",
            grouped(self.shown_chars)
        )?;
        let cuts: Vec<String> = [
            (self.omitted_items, "array item"),
            (self.omitted_keys, "object key"),
            (self.omitted_chars, "string character"),
        ]
        .into_iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, what)| {
            format!(
                "{} {what}{}",
                grouped(count),
                if count == 1 { "" } else { "s" }
            )
        })
        .collect();
        if let Some((last, rest)) = cuts.split_last() {
            let list = if rest.is_empty() {
                last.clone()
            } else {
                format!("{} and {last}", rest.join(", "))
            };
            write!(f, "; {list} left out, each cut marked \"…\" in place")?;
        }
        write!(
            f,
            ". Return less (filter, slice or pick fields) to see the rest."
        )
    }
}

/// Writes a count with thousands separators: 1234567 → "1,234,567".
fn grouped(count: u64) -> String {
    let digits = count.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notice_names_every_kind_of_cut_and_the_size() {
        let truncation = Truncation {
            full_chars: 240_000,
            full_is_lower_bound: true,
            shown_chars: 23_950,
            omitted_items: 1_521,
            omitted_keys: 1,
            omitted_chars: 0,
        };
        assert_eq!(
            truncation.to_string(),
            "Result truncated: showing 23,950 of more than 240,000 characters of JSON; \
             1,521 array items and 1 object key left out, each cut marked \"…\" in place. \
             Return less (filter, slice or pick fields) to see the rest."
        );
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}
