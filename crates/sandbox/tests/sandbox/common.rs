//! Shared fixtures: synthetic spec views, a pool builder and a host that records what the
//! sandbox asks of it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use codemode_sandbox::{
    Delivery, Determinism, Host, Limits, LogLine, Outcome, Pool, PoolConfig, Rejection,
};
use codemode_spec::Node;
use futures::future::BoxFuture;
use serde_json::{Value, json};

/// A JSON value as a Node tree (no sharing).
pub fn node(value: &Value) -> Arc<Node> {
    Arc::new(match value {
        Value::Null => Node::Null,
        Value::Bool(flag) => Node::Bool(*flag),
        Value::Number(number) => Node::Number(number.clone()),
        Value::String(text) => Node::String(text.as_str().into()),
        Value::Array(items) => Node::Array(items.iter().map(node).collect()),
        Value::Object(fields) => Node::Object(
            fields
                .iter()
                .map(|(key, value)| (key.as_str().into(), node(value)))
                .collect(),
        ),
    })
}

fn object(fields: Vec<(&str, Arc<Node>)>) -> Arc<Node> {
    Arc::new(Node::Object(
        fields
            .into_iter()
            .map(|(key, value)| (key.into(), value))
            .collect(),
    ))
}

fn text(value: &str) -> Arc<Node> {
    Arc::new(Node::String(value.into()))
}

/// A view shaped like the Cloudflare one: `operations` operations over `paths` paths, tagged
/// with one of 40 products, whose responses share 300 schemas (each a resolved `$ref`).
pub fn synthetic_view(paths: usize, operations_per_path: usize) -> Arc<Node> {
    let schemas: Vec<Arc<Node>> = (0..300)
        .map(|index| {
            let properties = (0..12)
                .map(|field| {
                    let property = object(vec![
                        ("type", text("string")),
                        (
                            "description",
                            text(&format!(
                                "Field {field} of schema {index}: lorem ipsum dolor sit amet."
                            )),
                        ),
                    ]);
                    (format!("field_{field}"), property)
                })
                .collect::<Vec<_>>();
            let properties = Arc::new(Node::Object(
                properties
                    .into_iter()
                    .map(|(key, value)| (key.into(), value))
                    .collect(),
            ));
            object(vec![("type", text("object")), ("properties", properties)])
        })
        .collect();
    let methods = ["get", "post", "put", "patch", "delete"];
    let path_items = (0..paths)
        .map(|index| {
            let operations = methods[..operations_per_path]
                .iter()
                .map(|method| {
                    let schema = schemas[(index * 7 + method.len()) % schemas.len()].clone();
                    let content =
                        object(vec![("application/json", object(vec![("schema", schema)]))]);
                    let response = object(vec![("description", text("OK")), ("content", content)]);
                    let operation = object(vec![
                        ("operationId", text(&format!("{method}-thing-{index}"))),
                        ("summary", text(&format!("{method} thing {index}"))),
                        (
                            "tags",
                            Arc::new(Node::Array(vec![text(&format!("Product {}", index % 40))])),
                        ),
                        ("responses", object(vec![("200", response)])),
                    ]);
                    ((*method).into(), operation)
                })
                .collect();
            (
                format!("/accounts/{{account_id}}/things/{index}").into(),
                Arc::new(Node::Object(operations)),
            )
        })
        .collect();
    object(vec![
        ("openapi", text("3.0.3")),
        (
            "info",
            object(vec![
                ("title", text("Synthetic API")),
                ("version", text("1.0")),
            ]),
        ),
        ("paths", Arc::new(Node::Object(path_items))),
    ])
}

/// A small view for tests that only need a `spec`.
pub fn small_view() -> Arc<Node> {
    node(&json!({
        "info": { "title": "Small API" },
        "paths": {
            "/zones": { "get": { "operationId": "zones-list", "tags": ["Zones"] } },
            "/zones/{zone_id}/dns_records": { "get": { "operationId": "dns-list", "tags": ["DNS"] }, "post": { "operationId": "dns-create", "tags": ["DNS"] } }
        }
    }))
}

/// Limits with a short timeout, so limit tests finish quickly.
pub fn quick_limits() -> Limits {
    Limits {
        timeout: Duration::from_secs(2),
        ..PoolConfig::default().execute
    }
}

/// A pool of `workers` workers over `view` with the default limits, except a 2 s timeout.
pub fn pool(view: Arc<Node>, workers: usize) -> Pool {
    let config = PoolConfig {
        workers,
        search: quick_limits(),
        execute: quick_limits(),
        ..PoolConfig::default()
    };
    Pool::new(view, config, tokio::runtime::Handle::current()).expect("the pool starts")
}

/// A host that records what it is asked and answers by path:
/// `/hang` never answers, `/fail` answers with an API error envelope, `/broken` fails
/// outright, `/together` waits until `query.count` requests (3 if not given) are in flight at
/// once, `/person` waits `query.ms` milliseconds for a person (counted by
/// `waiting_for_people`), and any other path succeeds, echoing the options as `result`.
#[derive(Default)]
pub struct TestHost {
    pub logs: Mutex<Vec<LogLine>>,
    pub requests: Mutex<Vec<Value>>,
    pub in_flight: AtomicUsize,
    pub most_in_flight: AtomicUsize,
    pub account_lookups: AtomicUsize,
    pub account: Option<Result<String, String>>,
    /// The seed the code's `Math.random` draws from; fresh when not given.
    pub determinism: Option<Determinism>,
    /// The times the code's clock reads, in order, the last one again once they run out; the
    /// system clock when not given.
    pub clock: Option<Vec<i64>>,
    /// How many times the code read the clock.
    pub clock_reads: AtomicUsize,
    together: tokio::sync::Notify,
    people: Mutex<People>,
}

/// Time spent waiting for a person: finished waits, and the start of the current one.
#[derive(Default)]
struct People {
    waited: Duration,
    since: Option<Instant>,
}

impl TestHost {
    pub fn new() -> Arc<TestHost> {
        Arc::new(TestHost::default())
    }

    pub fn with_account(account: Result<String, String>) -> Arc<TestHost> {
        Arc::new(TestHost {
            account: Some(account),
            ..TestHost::default()
        })
    }

    pub fn with_clock(determinism: Determinism, clock: Vec<i64>) -> Arc<TestHost> {
        Arc::new(TestHost {
            determinism: Some(determinism),
            clock: Some(clock),
            ..TestHost::default()
        })
    }

    pub fn log_texts(&self) -> Vec<String> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .map(|line| line.text.clone())
            .collect()
    }
}

/// Counts a request in flight until dropped.
struct InFlight(Arc<TestHost>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl TestHost {
    /// The envelope of one request of the tests' fake API.
    async fn request_one(self: Arc<Self>, options: Value) -> Result<Value, Rejection> {
        let host = self;
        let now = host.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        host.most_in_flight.fetch_max(now, Ordering::SeqCst);
        let _guard = InFlight(host.clone());
        let path = options["path"].as_str().unwrap_or_default().to_owned();
        match path.as_str() {
            "/hang" => futures::future::pending().await,
            "/broken" => Err(Rejection::new("upstream unreachable")),
            "/fail" => Ok(json!({
                "success": false,
                "status": 400,
                "result": null,
                "errors": [{ "code": 1003, "message": "Invalid zone identifier" }, { "code": 7003, "message": "No route" }],
                "messages": []
            })),
            "/person" => {
                let wait = Duration::from_millis(options["query"]["ms"].as_u64().unwrap_or(0));
                host.people.lock().unwrap().since = Some(Instant::now());
                tokio::time::sleep(wait).await;
                let mut people = host.people.lock().unwrap();
                let waited = people
                    .since
                    .take()
                    .map_or(Duration::ZERO, |since| since.elapsed());
                people.waited += waited;
                Ok(
                    json!({ "success": true, "status": 200, "result": "approved", "errors": [], "messages": [] }),
                )
            }
            "/together" => {
                let count = options["query"]["count"].as_u64().unwrap_or(3) as usize;
                host.together.notify_waiters();
                while host.most_in_flight.load(Ordering::SeqCst) < count {
                    tokio::time::timeout(Duration::from_millis(20), host.together.notified())
                        .await
                        .ok();
                }
                host.together.notify_waiters();
                Ok(
                    json!({ "success": true, "status": 200, "result": options, "errors": [], "messages": [] }),
                )
            }
            _ => Ok(
                json!({ "success": true, "status": 200, "result": options, "errors": [], "messages": [] }),
            ),
        }
    }
}

/// Lets a host method be called on an `Arc` clone of itself.
pub struct Shared(pub Arc<TestHost>);

impl Host for Shared {
    fn request(&self, options: Value) -> BoxFuture<'static, Result<Delivery, Rejection>> {
        let host = self.0.clone();
        host.requests.lock().unwrap().push(options.clone());
        Box::pin(async move {
            let path = options["path"].as_str().unwrap_or_default().to_owned();
            if let Some(size) = path.strip_prefix("/large/") {
                let size: usize = size.parse().unwrap_or(0);
                let items: Vec<Value> = (0..size)
                    .map(|i| json!({ "i": i, "name": "item" }))
                    .collect();
                return Ok(Delivery::from(
                    json!({ "success": true, "status": 200, "result": items, "errors": [], "messages": [] }),
                ));
            }
            host.request_one(options).await.map(Delivery::from)
        })
    }

    fn determinism(&self) -> Determinism {
        self.0.determinism.unwrap_or_else(Determinism::fresh)
    }

    fn clock_ms(&self) -> i64 {
        let read = self.0.clock_reads.fetch_add(1, Ordering::SeqCst);
        match &self.0.clock {
            Some(times) => times[read.min(times.len() - 1)],
            None => codemode_sandbox::unix_ms(),
        }
    }

    fn account_id(&self) -> BoxFuture<'static, Result<String, Rejection>> {
        let host = self.0.clone();
        host.account_lookups.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            match host.account.clone() {
                Some(account) => account.map_err(Rejection::new),
                None => futures::future::pending().await,
            }
        })
    }

    fn log(&self, line: &LogLine) {
        self.0.logs.lock().unwrap().push(line.clone());
    }

    fn waiting_for_people(&self) -> Duration {
        let people = self.0.people.lock().unwrap();
        people.waited + people.since.map_or(Duration::ZERO, |since| since.elapsed())
    }
}

/// An outcome's result parsed as a JSON value, for comparing with `json!`.
pub fn value(outcome: Outcome) -> Value {
    outcome.result.to_value().expect("the result is JSON")
}
