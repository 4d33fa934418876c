//! The documented defaults, and partial config files.

use codemode_ratelimit::Limits;

#[test]
fn the_defaults_are_the_documented_ones() {
    let limits = Limits::default();
    assert_eq!(limits.search_per_session, 20);
    assert_eq!(limits.execute_per_session, 10);
    assert_eq!(limits.execute_per_subject_per_day, 50);
    assert_eq!(limits.concurrent_per_subject, 4);
    assert_eq!(limits.max_code_chars, 2_000);
    assert_eq!(limits.refusals_per_subject_per_hour, 30);
    let configured: Limits = toml::from_str("execute_per_session = 3").expect("partial config");
    assert_eq!(configured.execute_per_session, 3);
    assert_eq!(configured.search_per_session, 20);
    assert!(toml::from_str::<Limits>("execute_per_sesion = 3").is_err());
}
