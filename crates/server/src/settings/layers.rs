//! Reading a layer of settings from its source: the config file (TOML) or the `CODEMODE_…`
//! environment variables, both through the same serde types, with durations such as `30s`
//! or `5m` accepted wherever a `…_secs` key takes a number.
//!
//! The environment mapping: `CODEMODE_` then the key's path in upper case, sections joined
//! with a double underscore: `listen` is `CODEMODE_LISTEN`, `[http] allowed_hosts` is
//! `CODEMODE_HTTP__ALLOWED_HOSTS`. A value is read as a TOML value when it is one (`8`,
//! `true`, `["a", "b"]`, `{ mode = "keys" }`) and as a string otherwise.

use std::path::Path;

use serde::Deserialize;
use toml::{Table, Value};

use crate::settings::{ConfigError, Options};

/// The prefix of the variables that set config keys.
pub const ENV_PREFIX: &str = "CODEMODE_";
/// What joins a section and its key in a variable's name.
pub const ENV_SEPARATOR: &str = "__";
/// `CODEMODE_` variables that are not config keys: secrets and the log format.
const NOT_KEYS: [&str; 2] = [super::CREDENTIALS_KEY_ENV, "CODEMODE_LOG_FORMAT"];

/// The layer a config file sets.
pub fn from_file(path: &Path) -> Result<Options, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    let parse_error = |error| ConfigError::Parse {
        path: path.to_path_buf(),
        error: Box::new(error),
    };
    // Read as written first, so errors keep their line and column; durations written with a
    // unit need the second pass.
    match toml::from_str::<Options>(&text) {
        Ok(options) => Ok(options),
        Err(first) => {
            let mut table: Table = toml::from_str(&text).map_err(parse_error)?;
            if !durations_to_seconds(&mut table) {
                return Err(parse_error(first));
            }
            Options::deserialize(Value::Table(table)).map_err(|_| parse_error(first))
        }
    }
}

/// The layer the `CODEMODE_…` variables among `vars` set, with an error for each variable
/// that names a key wrongly or gives it a value it cannot take, and the names of the
/// variables that name no key at all.
pub fn from_env(
    vars: impl IntoIterator<Item = (String, String)>,
) -> (Options, Vec<ConfigError>, Vec<String>) {
    let mut combined = Table::new();
    let mut errors = Vec::new();
    let mut unknown = Vec::new();
    for (name, raw) in vars {
        let Some(path) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if NOT_KEYS.contains(&name.as_str()) || raw.is_empty() {
            continue;
        }
        let keys: Vec<String> = path
            .split(ENV_SEPARATOR)
            .map(str::to_ascii_lowercase)
            .collect();
        let mut alone = Table::new();
        insert(&mut alone, &keys, env_value(&raw));
        durations_to_seconds(&mut alone);
        match Options::deserialize(Value::Table(alone.clone())) {
            Ok(_) => merge(&mut combined, alone),
            Err(error) if keys.len() == 1 && error.to_string().contains("unknown field") => {
                unknown.push(name);
            }
            Err(error) => errors.push(ConfigError::Env {
                name,
                key: keys.join("."),
                reason: error.message().to_string(),
            }),
        }
    }
    let options = Options::deserialize(Value::Table(combined)).unwrap_or_default();
    (options, errors, unknown)
}

/// A variable's value: a TOML value when it parses as one, else the text as a string.
fn env_value(raw: &str) -> Value {
    toml::from_str::<Table>(&format!("value = {raw}"))
        .ok()
        .and_then(|mut table| table.remove("value"))
        .unwrap_or_else(|| Value::String(raw.to_string()))
}

fn insert(table: &mut Table, keys: &[String], value: Value) {
    match keys {
        [] => {}
        [key] => {
            table.insert(key.clone(), value);
        }
        [section, rest @ ..] => {
            let entry = table
                .entry(section.clone())
                .or_insert_with(|| Value::Table(Table::new()));
            if let Value::Table(inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

fn merge(into: &mut Table, from: Table) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(Value::Table(existing)), Value::Table(inner)) => merge(existing, inner),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

/// Rewrites every `…_secs` string value written with a unit (`30s`, `5m`, `2h`, `1d`) as its
/// number of seconds; says whether it changed anything.
fn durations_to_seconds(table: &mut Table) -> bool {
    let mut changed = false;
    for (key, value) in table.iter_mut() {
        match value {
            Value::Table(inner) => changed |= durations_to_seconds(inner),
            Value::Array(items) => {
                for item in items {
                    if let Value::Table(inner) = item {
                        changed |= durations_to_seconds(inner);
                    }
                }
            }
            Value::String(text) if key.ends_with("_secs") => {
                if let Some(seconds) = parse_duration(text) {
                    *value = if seconds.fract() == 0.0 && seconds < i64::MAX as f64 {
                        Value::Integer(seconds as i64)
                    } else {
                        Value::Float(seconds)
                    };
                    changed = true;
                }
            }
            _ => {}
        }
    }
    changed
}

/// Seconds in `30s`, `1.5m`, `2h`, `1d` or a plain number; `None` for anything else.
pub fn parse_duration(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return None,
    };
    Some(number * scale).filter(|seconds| seconds.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_or_plain_numbers() {
        assert_eq!(parse_duration("30s"), Some(30.0));
        assert_eq!(parse_duration("5m"), Some(300.0));
        assert_eq!(parse_duration("1.5h"), Some(5400.0));
        assert_eq!(parse_duration("1d"), Some(86_400.0));
        assert_eq!(parse_duration("250ms"), Some(0.25));
        assert_eq!(parse_duration("12"), Some(12.0));
        assert_eq!(parse_duration("5 weeks"), None);
        assert_eq!(parse_duration("s"), None);
    }

    #[test]
    fn environment_variables_map_to_keys_and_name_themselves_in_errors() {
        let vars = [
            ("CODEMODE_LISTEN", "localhost:9000"),
            ("CODEMODE_HTTP__ALLOWED_HOSTS", r#"["mcp.example.com"]"#),
            ("CODEMODE_HTTP__SHUTDOWN_GRACE_SECS", "1m"),
            ("CODEMODE_SANDBOX__WORKERS", "lots"),
            ("CODEMODE_BIN", "/usr/bin/codemode"),
            ("CODEMODE_CREDENTIALS_KEY", "secret"),
            ("PATH", "/usr/bin"),
        ]
        .map(|(name, value)| (name.to_string(), value.to_string()));
        let (options, errors, unknown) = from_env(vars);
        assert_eq!(options.listen.as_deref(), Some("localhost:9000"));
        let http = options.http.expect("[http]");
        assert_eq!(
            http.allowed_hosts,
            Some(vec!["mcp.example.com".to_string()])
        );
        assert_eq!(http.shutdown_grace_secs, Some(60.0));
        assert_eq!(errors.len(), 1, "{errors:?}");
        let message = errors[0].to_string();
        assert!(
            message.contains("CODEMODE_SANDBOX__WORKERS") && message.contains("sandbox.workers"),
            "{message}"
        );
        assert_eq!(unknown, vec!["CODEMODE_BIN".to_string()]);
    }
}
