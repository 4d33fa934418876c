//! `spec.find` and `spec.op` in `search`: answered from the loaded spec, their arguments
//! checked, their answers fresh per call, and the functions frozen.

use std::sync::Arc;

use codemode_sandbox::{CancelToken, Pool, PoolConfig, SandboxError};
use codemode_spec::Spec;
use serde_json::{Value, json};

use crate::common::{quick_limits, value};

/// A pool over a small spec with three operations.
fn pool() -> Pool {
    let spec = Spec::from_bytes(
        br#"{"openapi": "3.0.3", "paths": {
            "/zones": {"get": {"summary": "List Zones", "tags": ["Zone"]}},
            "/zones/{zone_id}/dns_records": {
                "parameters": [{"name": "zone_id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "get": {"summary": "List DNS Records", "parameters": [
                    {"name": "type", "in": "query", "schema": {"type": "string", "enum": ["A", "CNAME"]}}]},
                "post": {"summary": "Create DNS Record", "requestBody": {"content": {"application/json": {
                    "schema": {"type": "object", "required": ["name", "id"], "properties": {
                        "id": {"type": "string", "readOnly": true}, "name": {"type": "string"}}}}}}}
            }
        }}"#,
    )
    .expect("the spec loads");
    let config = PoolConfig {
        workers: 1,
        search: quick_limits(),
        execute: quick_limits(),
        ..PoolConfig::default()
    };
    Pool::for_spec(Arc::new(spec), config, tokio::runtime::Handle::current())
        .expect("the pool starts")
}

async fn search(pool: &Pool, code: &str) -> Result<Value, SandboxError> {
    pool.search(code, CancelToken::new()).await.map(value)
}

/// The message of the error `code` throws.
async fn thrown(pool: &Pool, code: &str) -> String {
    match search(pool, code).await {
        Err(SandboxError::Thrown { message }) => message,
        other => panic!("expected {code} to throw, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_ranks_operations_by_task_with_compact_items() {
    let pool = pool();
    let found = search(
        &pool,
        "async () => spec.find('add a DNS record', { limit: 1 })",
    )
    .await;
    assert_eq!(
        found,
        Ok(json!([{
            "api": "cloudflare",
            "method": "POST",
            "path": "/zones/{zone_id}/dns_records",
            "summary": "Create DNS Record",
            "product": "dns_records"
        }]))
    );
    let filtered = search(
        &pool,
        "async () => spec.find('records', { method: 'get', api: 'cloudflare' }).map(o => o.method + ' ' + o.path)",
    )
    .await;
    assert_eq!(filtered, Ok(json!(["GET /zones/{zone_id}/dns_records"])));
    let products = search(
        &pool,
        "async () => spec.find('list', { product: 'zones' }).length",
    )
    .await;
    assert_eq!(products, Ok(json!(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn op_shows_one_operation_by_template_or_concrete_path() {
    let pool = pool();
    let by_template = search(
        &pool,
        "async () => spec.op('POST', '/zones/{zone_id}/dns_records')",
    )
    .await;
    assert_eq!(
        by_template,
        Ok(json!({
            "api": "cloudflare",
            "method": "POST",
            "path": "/zones/{zone_id}/dns_records",
            "summary": "Create DNS Record",
            "parameters": [{"name": "zone_id", "in": "path", "required": true, "type": "string"}],
            "body": "{ name: string; }"
        }))
    );
    let concrete = search(
        &pool,
        "async () => { const op = spec.op('GET /zones/abc/dns_records?type=A'); return [op.path, op.parameters[1]]; }",
    )
    .await;
    assert_eq!(
        concrete,
        Ok(json!([
            "/zones/{zone_id}/dns_records",
            {"name": "type", "in": "query", "required": false, "type": "\"A\" | \"CNAME\""}
        ]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_throw_errors_that_say_what_to_pass() {
    let pool = pool();
    let unknown = thrown(
        &pool,
        "async () => spec.op('DELETE', '/zones/abc/dns_record')",
    )
    .await;
    assert!(
        unknown.contains("DELETE /zones/abc/dns_record is not an operation of this API; the nearest operations are: GET /zones/{zone_id}/dns_records"),
        "{unknown}"
    );
    assert!(unknown.contains("spec.find("), "{unknown}");
    for (code, expected) in [
        (
            "spec.find(42)",
            "spec.find(query, options?) takes the task in words",
        ),
        (
            "spec.find('x', { limt: 3 })",
            "spec.find has no option \"limt\"; its options are limit, method, product, api",
        ),
        (
            "spec.find('x', { limit: 0 })",
            "option limit must be a whole number from 1 to 50",
        ),
        (
            "spec.find('x', { method: 'HEAD' })",
            "method must be one of GET, POST, PUT, PATCH, DELETE",
        ),
        (
            "spec.find('x', { api: 'github' })",
            "there is no API named \"github\" here; the APIs are: cloudflare",
        ),
        ("spec.find('x', 'GET')", "options must be an object"),
        (
            "spec.op('/zones')",
            "spec.op(method, path) takes a method and a path",
        ),
        ("spec.op('FETCH', '/zones')", "method must be one of"),
    ] {
        let message = thrown(&pool, &format!("async () => {code}")).await;
        assert!(message.contains(expected), "{code}: {message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_helpers_are_frozen_and_their_answers_are_the_calls_own() {
    let pool = pool();
    let first = search(
        &pool,
        "async () => { const found = spec.find('zones'); found[0].path = 'changed'; found.push(1);
            try { spec.find.extra = 1; } catch {}
            return [Object.isFrozen(spec.find), Object.isFrozen(spec.op), typeof spec.find.extra,
                    Object.keys(spec), found[0] instanceof Object]; }",
    )
    .await;
    assert_eq!(
        first,
        Ok(json!([
            true,
            true,
            "undefined",
            ["paths", "find", "op"],
            true
        ]))
    );
    let again = search(&pool, "async () => spec.find('list zones')[0].path").await;
    assert_eq!(again, Ok(json!("/zones")));
}
