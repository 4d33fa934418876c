//! The sandbox's config section: its keys, defaults and checks, and the pool it becomes.

use std::time::Duration;

use codemode_sandbox::{PoolConfig, SandboxConfig};
use serde_json::json;

#[test]
fn keys_left_out_keep_their_defaults() {
    let config: SandboxConfig =
        serde_json::from_value(json!({ "workers": 3, "queue": 7, "log_chars": 100 }))
            .expect("the section parses");
    assert_eq!(
        config,
        SandboxConfig {
            workers: 3,
            queue: 7,
            log_chars: 100,
            ..SandboxConfig::default()
        }
    );
    let pool = config.pool_config().expect("the settings are valid");
    assert_eq!((pool.workers, pool.queue), (3, 7));
    assert_eq!(pool.execute.log_chars, 100);
    assert_eq!(pool.search.timeout, Duration::from_secs(10));
    assert_eq!(pool.execute.timeout, Duration::from_secs(30));
    assert_eq!(pool.execute.memory_bytes, 64 << 20);
    assert_eq!(pool.api_global, "cloudflare");
}

#[test]
fn an_unknown_key_is_refused() {
    let refused = serde_json::from_value::<SandboxConfig>(json!({ "worker": 3 }));
    assert!(
        refused
            .as_ref()
            .is_err_and(|error| error.to_string().contains("unknown field `worker`")),
        "{refused:?}"
    );
}

#[test]
fn every_key_is_checked_and_named_when_out_of_range() {
    let zero = |key: &str| {
        let mut section = json!({});
        section[key] = json!(0);
        serde_json::from_value::<SandboxConfig>(section).expect("the section parses")
    };
    for key in [
        "workers",
        "queue",
        "executes",
        "search_timeout_secs",
        "execute_timeout_secs",
        "memory_mib",
        "stack_kib",
        "code_kib",
        "result_chars",
        "log_chars",
    ] {
        let error = zero(key).pool_config().expect_err("zero is refused");
        assert_eq!(error.key, key);
        assert!(error.to_string().contains(&format!("`{key}`")), "{error}");
    }
    assert_eq!(
        zero("queue").validate().map_err(|error| error.to_string()),
        Err("setting `queue` must be a number above 0 and at most 1000000, got 0".to_owned())
    );
    let long = SandboxConfig {
        search_timeout_secs: 86_401.0,
        ..SandboxConfig::default()
    };
    assert_eq!(
        long.validate().map_err(|error| error.key),
        Err("search_timeout_secs")
    );
}

#[test]
fn the_pool_defaults_are_the_sections() {
    assert_eq!(
        SandboxConfig::default().pool_config(),
        Ok(PoolConfig::default())
    );
}
