//! `search`: the spec is readable, and nothing one call does is visible to the next.

use std::time::{Duration, Instant};

use crate::common::{pool, small_view, synthetic_view, value};
use codemode_sandbox::{CancelToken, SandboxError};
use serde_json::json;

async fn search(
    pool: &codemode_sandbox::Pool,
    code: &str,
) -> Result<serde_json::Value, SandboxError> {
    pool.search(code, CancelToken::new()).await.map(value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_reads_the_frozen_spec() {
    let pool = pool(small_view(), 1);
    let result = search(
        &pool,
        "async () => Object.entries(spec.paths).flatMap(([path, item]) => Object.entries(item)
            .filter(([, op]) => op.tags.includes('DNS')).map(([method, op]) => `${method.toUpperCase()} ${path} ${op.operationId}`))",
    )
    .await;
    assert_eq!(
        result,
        Ok(json!([
            "GET /zones/{zone_id}/dns_records dns-list",
            "POST /zones/{zone_id}/dns_records dns-create"
        ]))
    );
    let frozen = search(
        &pool,
        "async () => [Object.isFrozen(spec), Object.isFrozen(spec.paths['/zones'].get.tags)]",
    )
    .await;
    assert_eq!(frozen, Ok(json!([true, true])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn globals_and_prototypes_do_not_survive_a_call() {
    let pool = pool(small_view(), 1);
    let first = search(
        &pool,
        "async () => {
            globalThis.leaked = 1;
            Object.prototype.polluted = 1;
            Array.prototype.polluted = 1;
            JSON.stringify = () => 'hijacked';
            return 'done';
        }",
    )
    .await;
    assert_eq!(first, Ok(json!("done")));
    let second = search(
        &pool,
        "async () => [typeof leaked, ({}).polluted, [].polluted, JSON.stringify({ a: 1 })]",
    )
    .await;
    assert_eq!(second, Ok(json!(["undefined", null, null, "{\"a\":1}"])));
    // Nor those of a call that fails.
    let failed = search(
        &pool,
        "async () => { globalThis.leaked = 2; Array.prototype.polluted = 2; throw new Error('no'); }",
    )
    .await;
    assert!(failed.is_err(), "{failed:?}");
    let third = search(&pool, "async () => [typeof leaked, [].polluted]").await;
    assert_eq!(third, Ok(json!(["undefined", null])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spec_cannot_be_changed() {
    let pool = pool(small_view(), 1);
    let attempts = search(
        &pool,
        "async () => {
            const tries = [
                () => { spec.info.title = 'changed'; },
                () => { spec.paths['/zones'].get.tags.push('Changed'); },
                () => { delete spec.paths['/zones']; },
                () => { Object.defineProperty(spec, 'extra', { value: 1 }); },
                () => { Object.setPrototypeOf(spec, null); },
            ];
            return tries.map((attempt) => { try { attempt(); return 'allowed'; } catch (error) { return error.name; } });
        }",
    )
    .await;
    assert_eq!(
        attempts,
        Ok(json!([
            "TypeError",
            "TypeError",
            "TypeError",
            "TypeError",
            "TypeError"
        ]))
    );
    let after = search(
        &pool,
        "async () => [spec.info.title, spec.paths['/zones'].get.tags, 'extra' in spec]",
    )
    .await;
    assert_eq!(after, Ok(json!(["Small API", ["Zones"], false])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_realm_cannot_be_reached_through_the_spec() {
    let pool = pool(small_view(), 1);
    let attacks = search(
        &pool,
        "async () => {
            const attempt = (name, run) => { try { run(); return name + ': allowed'; } catch (error) { return name + ': ' + error.name; } };
            const base = Object.getPrototypeOf(spec);
            const baseArray = Object.getPrototypeOf(spec.paths['/zones'].get.tags);
            const iterator = Object.getPrototypeOf(Object.getPrototypeOf(spec.paths['/zones'].get.tags.values()));
            const BaseError = (() => { try { spec.paths['/zones'].get.tags.map(null); } catch (error) { return error.constructor; } })();
            return [
                attempt('Object.prototype', () => { base.leak = 1; }),
                attempt('Array.prototype', () => { baseArray.leak = 1; }),
                attempt('Iterator.prototype', () => { iterator.leak = 1; }),
                attempt('Function', () => spec.constructor.constructor('return globalThis')().leak = 1),
                attempt('Function via a method', () => Reflect.construct(spec.paths.hasOwnProperty.constructor, ['globalThis.leak = 1'])),
                attempt('AsyncFunction', () => Object.getPrototypeOf(baseArray.constructor.fromAsync).constructor('globalThis.leak = 1')),
                attempt('iterator helpers', () => { Object.getPrototypeOf(spec.paths['/zones'].get.tags.values().map((x) => x)).leak = 1; }),
                attempt('Error.prepareStackTrace', () => { Object.getPrototypeOf(BaseError).prepareStackTrace = () => 'hijacked'; }),
                attempt('Error.stackTraceLimit', () => { Object.getPrototypeOf(BaseError).stackTraceLimit = 0; }),
                attempt('Object.assign', () => { spec.constructor.assign = () => 0; }),
            ];
        }",
    )
    .await;
    assert_eq!(
        attacks,
        Ok(json!([
            "Object.prototype: TypeError",
            "Array.prototype: TypeError",
            "Iterator.prototype: TypeError",
            "Function: TypeError",
            "Function via a method: TypeError",
            "AsyncFunction: TypeError",
            "iterator helpers: TypeError",
            "Error.prepareStackTrace: TypeError",
            "Error.stackTraceLimit: TypeError",
            "Object.assign: TypeError"
        ]))
    );
    let later = search(
        &pool,
        "async () => {
            const base = Object.getPrototypeOf(spec);
            const BaseError = (() => { try { spec.paths['/zones'].get.tags.map(null); } catch (error) { return error; } })();
            return [base.leak, Object.getPrototypeOf(spec.paths['/zones'].get.tags).leak, typeof BaseError.stack, typeof globalThis.leak];
        }",
    )
    .await;
    assert_eq!(later, Ok(json!([null, null, "string", "undefined"])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_is_captured_in_search() {
    let pool = pool(small_view(), 1);
    let outcome = pool
        .search("async () => { console.log('paths', Object.keys(spec.paths).length); console.warn({ a: [1] }); return 1; }", CancelToken::new())
        .await
        .expect("the search runs");
    let lines: Vec<(String, String)> = outcome
        .logs
        .iter()
        .map(|line| (format!("{:?}", line.level), line.text.clone()))
        .collect();
    assert_eq!(
        lines,
        vec![
            ("Log".to_owned(), "paths 2".to_owned()),
            ("Warn".to_owned(), "{\"a\":[1]}".to_owned())
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returning_the_whole_spec_is_bounded_and_fast() {
    let pool = pool(synthetic_view(1_500, 1), 1);
    let started = Instant::now();
    let outcome = pool
        .search("async () => spec", CancelToken::new())
        .await
        .expect("the search runs");
    let elapsed = started.elapsed();
    let truncation = outcome.truncation.expect("the spec is cut");
    assert!(truncation.full_is_lower_bound);
    assert!(truncation.shown_chars <= 24_000);
    assert!(outcome.result.as_str().chars().count() <= 24_100);
    assert!(
        outcome.result.to_value().expect("the result is JSON")["paths"]
            .as_object()
            .is_some_and(|paths| paths.contains_key("…"))
    );
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
}

/// Prints the median cost of a typical search (every operation, filtered by tag) on a view
/// shaped like the Cloudflare one; run with `--ignored --nocapture` in release mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn typical_search_cost() {
    let started = Instant::now();
    let pool = pool(synthetic_view(750, 2), 1);
    println!(
        "pool with a 1,500-operation view built in {:?}",
        started.elapsed()
    );
    let code = "async () => {
        const found = [];
        for (const [path, item] of Object.entries(spec.paths))
            for (const [method, op] of Object.entries(item))
                if (op.tags.includes('Product 7')) found.push({ method, path, summary: op.summary });
        return found;
    }";
    let mut times = Vec::new();
    for _ in 0..60 {
        let started = Instant::now();
        let outcome = pool
            .search(code, CancelToken::new())
            .await
            .expect("the search runs");
        times.push(started.elapsed());
        assert_eq!(value(outcome).as_array().map(Vec::len), Some(38));
    }
    times.sort();
    println!(
        "typical search: median {:?}, p90 {:?}",
        times[times.len() / 2],
        times[times.len() * 9 / 10]
    );
    let mut times = Vec::new();
    for _ in 0..60 {
        let started = Instant::now();
        pool.search("async () => 1", CancelToken::new())
            .await
            .expect("the search runs");
        times.push(started.elapsed());
    }
    times.sort();
    println!("empty search: median {:?}", times[times.len() / 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_schemas_stay_shared_and_odd_keys_stay_keys() {
    let view = crate::common::node(
        &json!({ "paths": {}, "odd": { "__proto__": { "polluted": true }, "constructor": 1 } }),
    );
    let pool = pool(view, 1);
    let odd = search(&pool, "async () => [Object.keys(spec.odd), spec.odd.__proto__.polluted, ({}).polluted, Object.getPrototypeOf(spec.odd) === Object.getPrototypeOf(spec)]").await;
    assert_eq!(
        odd,
        Ok(json!([["__proto__", "constructor"], true, null, true]))
    );

    let pool = crate::common::pool(synthetic_view(20, 2), 1);
    let shared = search(
        &pool,
        "async () => {
            const schemaOf = (path, method) => spec.paths[path][method].responses['200'].content['application/json'].schema;
            return schemaOf('/accounts/{account_id}/things/0', 'get') === schemaOf('/accounts/{account_id}/things/0', 'get')
                && schemaOf('/accounts/{account_id}/things/0', 'get') !== schemaOf('/accounts/{account_id}/things/1', 'get');
        }",
    )
    .await;
    assert_eq!(shared, Ok(json!(true)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throwing_the_whole_spec_is_bounded() {
    let pool = pool(synthetic_view(1_500, 1), 1);
    let started = Instant::now();
    let thrown = search(&pool, "async () => { throw spec; }").await;
    let Err(SandboxError::Thrown { message }) = thrown else {
        panic!("expected a thrown value, got {thrown:?}");
    };
    assert!(
        message.starts_with("Uncaught {\"openapi\":\"3.0.3\""),
        "{}",
        &message[..80]
    );
    assert!(
        message.chars().count() < 2_100,
        "{} chars",
        message.chars().count()
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}
