//! The credential never reaches agent code or an error, whatever spelling the API echoes it in.

use serde_json::{Value, json};

use crate::fake_api::FakeApi;
use crate::{TOKEN, http_gateway, open_config};

/// Every string `value` holds or decodes to: keys and values, each also read as a JSON string
/// body (undoing `\u` escapes) and as a JSON document, as agent code could.
fn readings(value: &Value, depth: usize, out: &mut Vec<String>) {
    match value {
        Value::String(text) => read_text(text, depth, out),
        Value::Array(items) => items.iter().for_each(|item| readings(item, depth, out)),
        Value::Object(fields) => {
            for (key, field) in fields {
                read_text(key, depth, out);
                readings(field, depth, out);
            }
        }
        _ => {}
    }
}

fn read_text(text: &str, depth: usize, out: &mut Vec<String>) {
    out.push(text.to_string());
    if depth == 0 {
        return;
    }
    if let Ok(unescaped) = serde_json::from_str::<String>(&format!("\"{text}\"")) {
        read_text(&unescaped, depth - 1, out);
    }
    if let Ok(document) = serde_json::from_str::<Value>(text) {
        readings(&document, depth - 1, out);
    }
}

/// Fails when any reading of `value` holds the token; returns how many readings were redacted.
fn assert_no_token_anywhere(value: &Value) -> usize {
    let mut all = vec![value.to_string()];
    readings(value, 4, &mut all);
    for text in &all {
        assert!(!text.contains(TOKEN), "the token leaked into: {text}");
    }
    all.iter().filter(|t| t.contains("[redacted]")).count()
}

#[tokio::test]
async fn an_echoed_token_is_scrubbed_in_every_json_spelling() {
    let (base, api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let call = gateway.call();
    for spelling in [
        "escaped",
        "partly-escaped",
        "upper-case",
        "in-a-key",
        "nested",
        "in-an-error",
        "text",
    ] {
        let path = format!("/reflect-token/{spelling}");
        let body = call
            .request(&json!({"method": "GET", "path": path}))
            .await
            .unwrap_or_else(|e| panic!("{spelling}: {e}"));
        assert!(
            assert_no_token_anywhere(&body) > 0,
            "{spelling}: nothing was redacted from {body}"
        );
    }
    let echoed = api
        .seen()
        .iter()
        .filter(|s| s.authorization.as_deref() == Some(&format!("Bearer {TOKEN}")))
        .count();
    assert_eq!(echoed, 7, "every request carried the token to echo");
}

#[tokio::test]
async fn the_scrubbed_envelope_keeps_its_shape() {
    let (base, _api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let call = gateway.call();
    let get = async |path: &str| {
        call.request(&json!({"method": "GET", "path": path}))
            .await
            .expect("an envelope")
    };
    let escaped = get("/reflect-token/escaped").await;
    assert_eq!(escaped["result"], json!({"seen": "Bearer [redacted]"}));
    let key = get("/reflect-token/in-a-key").await;
    assert_eq!(key["result"], json!({"Bearer [redacted]": true}));
    let error = get("/reflect-token/in-an-error").await;
    assert_eq!(error["status"], json!(400));
    assert_eq!(
        error["errors"][0]["message"],
        json!("bad header Bearer [redacted]")
    );
    let text = get("/reflect-token/text").await;
    let text = text["result"].as_str().expect("the text");
    assert!(
        text.starts_with("you sent ") && text.ends_with("[redacted]"),
        "{text}"
    );
}

#[tokio::test]
async fn an_error_quoting_the_api_never_holds_the_token() {
    let (base, _api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let error = gateway
        .call()
        .request(&json!({"method": "GET", "path": "/reflect-token/refused"}))
        .await
        .expect_err("a 403 is an error");
    let message = error.to_string();
    assert!(
        message.contains("token Bearer [redacted] lacks permission"),
        "{message}"
    );
    assert!(!message.contains(TOKEN), "{message}");
}
