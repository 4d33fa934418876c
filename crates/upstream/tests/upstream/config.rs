//! The `[upstream]` config section: its keys, defaults and checks.

use std::sync::Arc;

use codemode_upstream::{Gateway, GatewayConfig, GatewayConfigError, HttpSettings, HttpUpstream};

fn parse(text: &str) -> Result<GatewayConfig, toml::de::Error> {
    toml::from_str(text)
}

#[test]
fn keys_left_out_keep_their_defaults() {
    assert_eq!(parse("").expect("empty section"), GatewayConfig::default());
    let defaults = GatewayConfig::default();
    assert_eq!(
        (
            defaults.max_subrequests,
            defaults.max_concurrent_subrequests,
            defaults.enforce_spec
        ),
        (50, 6, true)
    );
    let config = parse("max_subrequests = 5\nenforce_spec = false").expect("valid");
    assert_eq!(
        config,
        GatewayConfig {
            max_subrequests: 5,
            enforce_spec: false,
            ..GatewayConfig::default()
        }
    );
    assert_eq!(
        parse("max_concurrent_subrequests = 2")
            .expect("valid")
            .max_concurrent_subrequests,
        2
    );
}

#[test]
fn unknown_keys_and_retry_settings_are_refused() {
    for text in ["max_subrequest = 5", "retry = {}", "max_concurrent = 2"] {
        let error = parse(text).expect_err(text);
        assert!(
            error.to_string().contains("unknown field"),
            "{text}: {error}"
        );
    }
}

#[test]
fn no_concurrency_is_refused_with_the_key_to_fix() {
    let config = parse("max_concurrent_subrequests = 0").expect("parses");
    assert_eq!(config.validate(), Err(GatewayConfigError::NoConcurrency));
    assert!(
        GatewayConfigError::NoConcurrency
            .to_string()
            .contains("max_concurrent_subrequests must be at least 1")
    );
    let upstream =
        HttpUpstream::new("https://api.example.com", HttpSettings::default()).expect("valid base");
    let refused: Result<Gateway, _> = Gateway::new(Arc::new(upstream), &[], config);
    assert!(matches!(refused, Err(GatewayConfigError::NoConcurrency)));
}
