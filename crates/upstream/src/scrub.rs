//! Keeps credentials out of everything a call returns: every string of a parsed response, keys
//! included, is searched for each credential in every spelling JSON allows.
//!
//! A token reaches agent code in plain text once its JSON is parsed, however the API spelled it:
//! `"\u0042earer ..."` parses to `Bearer ...`. So the search runs on parsed strings, and there it
//! also finds a token still JSON-escaped (at any depth, `\u` escapes in either hex case, `\/`, `\"`
//! and `\\`), which code could decode itself with `JSON.parse`.

use std::borrow::Cow;

use serde_json::Value;

use crate::credential::Credential;

/// What replaces a credential.
pub const REDACTED: &str = "[redacted]";

/// Replaces every credential in every string of `value`, keys included.
pub fn scrub_value(value: &mut Value, secrets: &[Credential]) {
    if secrets.is_empty() {
        return;
    }
    match value {
        Value::String(text) => {
            if let Cow::Owned(clean) = scrub_text(text, secrets) {
                *text = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| scrub_value(item, secrets)),
        Value::Object(fields) => {
            fields
                .values_mut()
                .for_each(|field| scrub_value(field, secrets));
            let dirty_key = |key: &String| matches!(scrub_text(key, secrets), Cow::Owned(_));
            if fields.keys().any(dirty_key) {
                for (key, field) in std::mem::take(fields) {
                    fields.insert(scrub_text(&key, secrets).into_owned(), field);
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// `text` with every spelling of each credential replaced by [`REDACTED`].
pub fn scrub_text<'a>(text: &'a str, secrets: &[Credential]) -> Cow<'a, str> {
    let mut text = Cow::Borrowed(text);
    for secret in secrets {
        if let Some(clean) = replace_spellings(&text, secret.expose()) {
            text = Cow::Owned(clean);
        }
    }
    text
}

/// `text` with each spelling of `token` replaced, or `None` when it holds none.
fn replace_spellings(text: &str, token: &str) -> Option<String> {
    if !text.contains('\\') {
        return text.contains(token).then(|| text.replace(token, REDACTED));
    }
    let token = token.as_bytes();
    let haystack = Haystack::new(text.as_bytes());
    let mut clean = String::new();
    let mut copied = 0;
    let mut at = 0;
    while at < text.len() {
        match haystack.spelling_at(at, token) {
            Some(end) => {
                clean.push_str(&text[copied..at]);
                clean.push_str(REDACTED);
                copied = end;
                at = end;
            }
            None => at += 1,
        }
    }
    if copied == 0 {
        return None;
    }
    clean.push_str(&text[copied..]);
    Some(clean)
}

/// The text searched, with where each run of backslashes ends, so a search stays linear.
struct Haystack<'a> {
    bytes: &'a [u8],
    /// For each byte, the index after the run of backslashes starting there (itself if none).
    run_end: Vec<usize>,
}

impl<'a> Haystack<'a> {
    fn new(bytes: &'a [u8]) -> Haystack<'a> {
        let mut run_end: Vec<usize> = (0..bytes.len()).collect();
        for at in (0..bytes.len()).rev() {
            if bytes[at] == b'\\' {
                run_end[at] = run_end
                    .get(at + 1)
                    .copied()
                    .unwrap_or(bytes.len())
                    .max(at + 1);
            }
        }
        Haystack { bytes, run_end }
    }

    /// Where a spelling of `token` starting at `start` ends (the longest), if one starts there.
    /// Tokens are printable ASCII, so every spelling starts and ends on a character boundary.
    fn spelling_at(&self, start: usize, token: &[u8]) -> Option<usize> {
        let mut ends = vec![start];
        for &wanted in token {
            let mut next = Vec::new();
            for &at in &ends {
                for end in self.char_spellings(at, wanted) {
                    if !next.contains(&end) {
                        next.push(end);
                    }
                }
            }
            if next.is_empty() {
                return None;
            }
            ends = next;
        }
        ends.into_iter().max()
    }

    /// Where each spelling of the ASCII character `wanted` starting at `at` ends: the character
    /// itself, or a run of backslashes then `uXXXX` (either case) or, for `"`, `/` and `\`, the
    /// character; a backslash also spells itself as a whole run of backslashes, or two.
    fn char_spellings(&self, at: usize, wanted: u8) -> Vec<usize> {
        let mut ends = Vec::new();
        let Some(&first) = self.bytes.get(at) else {
            return ends;
        };
        if first == wanted {
            ends.push(at + 1);
        }
        let after = self.run_end[at];
        if after == at {
            return ends;
        }
        if wanted == b'\\' {
            ends.extend(
                [at + 2, after]
                    .into_iter()
                    .filter(|&end| end > at + 1 && end <= after),
            );
        }
        if matches!(wanted, b'"' | b'/' | b'\\') && self.bytes.get(after) == Some(&wanted) {
            ends.push(after + 1);
        }
        let escaped = self
            .bytes
            .get(after..after + 5)
            .filter(|u| u[0] == b'u')
            .and_then(|u| std::str::from_utf8(&u[1..]).ok())
            .and_then(|hex| u32::from_str_radix(hex, 16).ok());
        if escaped == Some(u32::from(wanted)) {
            ends.push(after + 5);
        }
        ends
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn secrets(tokens: &[&str]) -> Vec<Credential> {
        tokens
            .iter()
            .map(|t| Credential::new(*t).expect("valid token"))
            .collect()
    }

    /// `text` with every character written as `\uXXXX`, in `upper` or lower-case hex.
    fn escaped(text: &str, upper: bool) -> String {
        text.chars()
            .map(|c| match upper {
                true => format!("\\u{:04X}", u32::from(c)),
                false => format!("\\u{:04x}", u32::from(c)),
            })
            .collect()
    }

    #[test]
    fn every_json_spelling_of_a_token_is_replaced() {
        let tokens = secrets(&["tok-Z9"]);
        let cases = [
            "Bearer tok-Z9".to_string(),
            format!("Bearer {}", escaped("tok-Z9", false)),
            format!("Bearer {}", escaped("tok-Z9", true)),
            "Bearer t\\u006fk-\\u005A9".to_string(),
            "Bearer t\\\\u006fk-Z9".to_string(),
            "Bearer t\\\\\\\\\\\\\\u006fk-Z9".to_string(),
        ];
        for case in cases {
            assert_eq!(scrub_text(&case, &tokens), "Bearer [redacted]", "{case}");
        }
        assert_eq!(
            scrub_text("tok-Z9tok-Z9 and t\\u006fk-Z9!", &tokens),
            "[redacted][redacted] and [redacted]!"
        );
        assert!(matches!(
            scrub_text("tok-Z8 \\u0074ok", &tokens),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn tokens_with_quotes_slashes_and_backslashes_are_found_escaped() {
        let tokens = secrets(&["a\"b/c\\d"]);
        for case in ["a\"b/c\\d", "a\\\"b\\/c\\\\d", "a\\u0022b\\u002Fc\\u005cd"] {
            assert_eq!(scrub_text(case, &tokens), REDACTED, "{case}");
        }
    }

    #[test]
    fn every_credential_is_replaced_in_keys_and_values_at_any_depth() {
        let tokens = secrets(&["first-1", "second-2"]);
        let mut value = json!({
            "first-1": {"list": ["x second-2 y", 7, null, {"k": "s\\u0065cond-2"}]},
            "plain": "nothing here",
        });
        scrub_value(&mut value, &tokens);
        assert_eq!(
            value,
            json!({
                "[redacted]": {"list": ["x [redacted] y", 7, null, {"k": "[redacted]"}]},
                "plain": "nothing here",
            })
        );
        let keys: Vec<&String> = value
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["[redacted]", "plain"], "the key order is kept");
    }

    #[test]
    fn long_runs_of_backslashes_are_searched_once() {
        let tokens = secrets(&["\\\\\\\\x"]);
        let text = "\\".repeat(20_000);
        assert_eq!(scrub_text(&text, &tokens), text.as_str());
    }
}
