//! The `[auth]` section: its TOML shape and the checks on it.

use codemode_auth::{AuthConfig, AuthMode, ConfigError, hash_key};
use serde::Deserialize;

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    auth: AuthConfig,
}

fn parse(toml_text: &str) -> Result<AuthConfig, toml::de::Error> {
    toml::from_str::<File>(toml_text).map(|file| file.auth)
}

fn oauth(extra: &str) -> String {
    format!(
        "[auth]\nmode = \"oauth\"\nissuer = \"https://auth.example.com\"\n\
         jwks_url = \"https://auth.example.com/jwks\"\nresource = \"https://codemode.example.com/mcp\"\n{extra}"
    )
}

#[test]
fn a_missing_section_means_none() {
    let config = parse("").expect("empty file");
    assert_eq!(config.mode(), AuthMode::None);
}

#[test]
fn the_documented_keys_example_parses() {
    let config = parse(&format!(
        "[auth]\nmode = \"keys\"\n[[auth.keys]]\nsubject = \"alice\"\nsha256 = \"{}\"\n\
         scopes = [\"search\", \"execute:read\"]\nforward = false\n",
        hash_key("k")
    ))
    .expect("keys example");
    assert_eq!(config.mode(), AuthMode::Keys);
    config.validate(false).expect("valid");
}

#[test]
fn unknown_fields_and_scopes_are_rejected() {
    let key_line = format!("sha256 = \"{}\"", hash_key("k"));
    for bad in [
        format!(
            "[auth]\nmode = \"keys\"\n[[auth.keys]]\nsubject = \"a\"\n{key_line}\nscopes = [\"search\"]\nadmin = true\n"
        ),
        format!(
            "[auth]\nmode = \"keys\"\n[[auth.keys]]\nsubject = \"a\"\n{key_line}\nscopes = [\"execute\"]\n"
        ),
        "[auth]\nmode = \"keys\"\nkeyz = []\n".to_owned(),
        "[auth]\nmode = \"tokens\"\n".to_owned(),
        "[auth]\nmode = \"none\"\nissuer = \"x\"\n".to_owned(),
        oauth("audience = \"x\""),
        oauth("algorithms = [\"XS256\"]"),
    ] {
        assert!(parse(&bad).is_err(), "accepted: {bad}");
    }
}

#[test]
fn key_entries_are_checked() {
    let entry = |subject: &str, sha: &str, scopes: &str| {
        format!("[[auth.keys]]\nsubject = \"{subject}\"\nsha256 = \"{sha}\"\nscopes = {scopes}\n")
    };
    let good = hash_key("k");
    let cases = [
        ("keys = []\n".to_owned(), "at least one"),
        (entry("a", "abc", "[\"search\"]"), "64 hex digits"),
        (entry("a", &"g".repeat(64), "[\"search\"]"), "64 hex digits"),
        (entry(" ", &good, "[\"search\"]"), "subject"),
        (entry("a", &good, "[]"), "at least one scope"),
        (
            entry("a", &good, "[\"search\"]") + &entry("b", &good.to_uppercase(), "[\"search\"]"),
            "auth.keys[1]: same sha256 as auth.keys[0]",
        ),
    ];
    for (entries, expected) in cases {
        let config = parse(&format!("[auth]\nmode = \"keys\"\n{entries}")).expect("parses");
        let error = config.validate(true).expect_err("invalid keys");
        assert!(error.to_string().contains(expected), "{error} / {expected}");
        assert!(
            !error.to_string().contains(&good),
            "hash leaked into: {error}"
        );
    }
}

#[test]
fn oauth_settings_are_checked() {
    parse(&oauth(""))
        .expect("parses")
        .validate(false)
        .expect("valid defaults");
    let cases = [
        (
            oauth("algorithms = [\"HS256\"]"),
            ConfigError::SymmetricAlgorithm("HS256".into()),
        ),
        (oauth("algorithms = []"), ConfigError::Empty("algorithms")),
        (
            oauth("authorization_servers = []"),
            ConfigError::Empty("authorization_servers"),
        ),
        (
            oauth("scopes_supported = [\"\"]"),
            ConfigError::Empty("scopes_supported"),
        ),
        (
            oauth("forward_scope = \"\""),
            ConfigError::Empty("forward_scope"),
        ),
    ];
    for (toml_text, expected) in cases {
        let error = parse(&toml_text)
            .expect("parses")
            .validate(false)
            .expect_err("invalid");
        assert_eq!(error, expected);
    }
    let plain_http_jwks = oauth("").replace(
        "https://auth.example.com/jwks",
        "http://auth.example.com/jwks",
    );
    let error = parse(&plain_http_jwks)
        .expect("parses")
        .validate(false)
        .expect_err("http jwks");
    assert!(
        matches!(
            error,
            ConfigError::BadUrl {
                field: "jwks_url",
                ..
            }
        ),
        "{error}"
    );
    let fragment = oauth("").replace("/mcp\"", "/mcp#frag\"");
    let error = parse(&fragment)
        .expect("parses")
        .validate(false)
        .expect_err("fragment");
    assert!(
        matches!(
            error,
            ConfigError::BadUrl {
                field: "resource",
                ..
            }
        ),
        "{error}"
    );
}
