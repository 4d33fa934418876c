//! The way out for one `execute` call: options, path guard, spec route, budget, upstream with
//! retries, envelope.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use codemode_spec::{Method, Operation};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::credential::{Credential, CredentialId, sha256_hex};
use crate::envelope::{envelope, error_summary};
use crate::options::{OptionsError, RequestOptions};
use crate::retry::{GiveUp, RetryPolicy, is_retryable};
use crate::routes::RouteTable;
use crate::upstream::{PreparedRequest, RawResponse, RequestBody, Upstream, UpstreamError};

/// Limits and checks applied to every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// Refuse a method and path that match no operation of the spec.
    pub enforce_spec: bool,
    /// Requests one call may make (retries of a request do not count).
    pub max_subrequests: usize,
    /// Requests one call may have in flight; more wait their turn.
    pub max_concurrent: usize,
    /// When to retry 429 and 503 responses.
    pub retry: RetryPolicy,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            enforce_spec: true,
            max_subrequests: 50,
            max_concurrent: 6,
            retry: RetryPolicy::default(),
        }
    }
}

/// Why a request failed. Every message says what to do about it, and none holds the credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The options were refused before anything was sent.
    #[error("invalid cloudflare.request options: {0}")]
    Options(#[from] OptionsError),
    /// The method and path match no operation of the spec.
    #[error(
        "{method} {path} is not an operation of the API spec{allowed}; search the spec for the \
         right method and path, e.g. Object.keys(spec.paths).filter(p => p.includes(\"dns_records\"))"
    )]
    NotInSpec {
        /// The method.
        method: Method,
        /// The path.
        path: String,
        /// The methods the path does accept, as a parenthesised note, or empty.
        allowed: String,
    },
    /// The call used up its requests.
    #[error(
        "subrequest limit reached: one execute call may make at most {limit} requests; \
         fetch more per request (filters, per_page) or split the work across calls"
    )]
    SubrequestLimit {
        /// The limit.
        limit: usize,
    },
    /// The API refused the credential (401) or its permissions (403).
    #[error("authentication failed (HTTP {status}) for {method} {path}: {reason}")]
    Authentication {
        /// 401 or 403.
        status: u16,
        /// The method.
        method: Method,
        /// The path.
        path: String,
        /// Why, with the API's own error codes and messages.
        reason: String,
    },
    /// The API kept answering 429 or 503.
    #[error(
        "{method} {path}: still HTTP {status} ({meaning}) after {attempts} attempt(s): {give_up}. \
         Wait and try again, or make fewer requests{api}"
    )]
    RetriesExhausted {
        /// The method.
        method: Method,
        /// The path.
        path: String,
        /// The last status.
        status: u16,
        /// `rate limited` or `unavailable`.
        meaning: &'static str,
        /// How many times the request was sent.
        attempts: u32,
        /// Why it stopped.
        give_up: GiveUp,
        /// The API's errors, as a sentence, or empty.
        api: String,
    },
    /// No response at all.
    #[error("{method} {path}: {source}")]
    Upstream {
        /// The method.
        method: Method,
        /// The path.
        path: String,
        /// What went wrong.
        source: UpstreamError,
    },
}

impl RequestError {
    /// The HTTP status the API answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            RequestError::Authentication { status, .. }
            | RequestError::RetriesExhausted { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// One request as sent, for auditing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// The method.
    pub method: Method,
    /// The spec template it matched, e.g. `/zones/{zone_id}`, if any.
    pub template: Option<String>,
    /// The concrete path.
    pub path: String,
    /// The final HTTP status; `None` when no response came.
    pub status: Option<u16>,
    /// Times the request was sent (1 plus retries).
    pub attempts: u32,
    /// Time from the first send to the final answer, waits included.
    pub duration: Duration,
}

/// Sends agent requests to one upstream, checked against one spec. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
}

struct Shared {
    upstream: Arc<dyn Upstream>,
    routes: RouteTable,
    config: GatewayConfig,
}

impl Gateway {
    /// A gateway to `upstream` that allows the given operations.
    pub fn new(
        upstream: Arc<dyn Upstream>,
        operations: &[Operation],
        config: GatewayConfig,
    ) -> Gateway {
        Gateway {
            shared: Arc::new(Shared {
                upstream,
                routes: RouteTable::new(operations),
                config,
            }),
        }
    }

    /// A fresh budget for one `execute` call whose requests carry `credential`.
    pub fn call(&self, credential: Option<Credential>) -> Call {
        Call::new(Arc::clone(&self.shared), credential)
    }
}

/// One `execute` call's requests: counted, limited in concurrency, recorded. Clones share the budget.
#[derive(Clone)]
pub struct Call {
    shared: Arc<Shared>,
    state: Arc<CallState>,
}

struct CallState {
    credential: Option<Credential>,
    sent: AtomicUsize,
    in_flight: Semaphore,
    records: Mutex<Vec<RequestRecord>>,
}

/// What sending, with retries, came to.
struct Sent {
    response: Result<RawResponse, UpstreamError>,
    attempts: u32,
    gave_up: Option<GiveUp>,
}

/// A request that passed every check and matched the spec, not yet sent: what policy decides on.
#[derive(Debug, Clone)]
pub struct CheckedRequest {
    options: RequestOptions,
    operation: Option<Operation>,
}

impl CheckedRequest {
    /// The method.
    pub fn method(&self) -> Method {
        self.options.method
    }

    /// The concrete path, e.g. `/zones/abc/dns_records`.
    pub fn path(&self) -> &str {
        self.options.path.as_str()
    }

    /// The path with its encoded query string, e.g. `/zones?name=example.com`: what a person
    /// approving the request must see.
    pub fn target(&self) -> String {
        if self.options.query.is_empty() {
            return self.path().to_string();
        }
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.options.query)
            .finish();
        format!("{}?{query}", self.path())
    }

    /// The spec operation it matched; `None` only when the spec is not enforced.
    pub fn operation(&self) -> Option<&Operation> {
        self.operation.as_ref()
    }

    /// SHA-256 (hex) of the body as it will be sent, if there is one.
    pub fn body_sha256(&self) -> Option<String> {
        self.options.body.as_ref().map(|b| sha256_hex(&b.bytes))
    }

    /// The body as it will be sent, if any.
    pub fn body(&self) -> Option<&RequestBody> {
        self.options.body.as_ref()
    }
}

impl Call {
    fn new(shared: Arc<Shared>, credential: Option<Credential>) -> Call {
        let concurrency = shared.config.max_concurrent.max(1);
        Call {
            shared,
            state: Arc::new(CallState {
                credential,
                sent: AtomicUsize::new(0),
                in_flight: Semaphore::new(concurrency),
                records: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Carries out one `cloudflare.request(options)` and returns the API's envelope.
    pub async fn request(&self, options: &Value) -> Result<Value, RequestError> {
        let checked = self.check(options)?;
        self.send(checked).await
    }

    /// Checks options, path and spec route without sending anything.
    pub fn check(&self, options: &Value) -> Result<CheckedRequest, RequestError> {
        let options = RequestOptions::parse(options)?;
        let segments: Vec<&str> = options.path.segments().collect();
        let operation = self.shared.routes.find(options.method, &segments).cloned();
        if operation.is_none() && self.shared.config.enforce_spec {
            return Err(self.not_in_spec(options.method, options.path.to_string(), &segments));
        }
        Ok(CheckedRequest { options, operation })
    }

    /// Sends a checked request within the call's budget and returns the API's envelope.
    pub async fn send(&self, checked: CheckedRequest) -> Result<Value, RequestError> {
        let CheckedRequest { options, operation } = checked;
        let method = options.method;
        let path = options.path.to_string();
        self.take_subrequest()?;
        // The semaphore is never closed, so acquiring only ever waits.
        let _permit = self.state.in_flight.acquire().await.ok();
        let started = Instant::now();
        let sent = self
            .send_with_retries(PreparedRequest {
                method,
                path: options.path,
                query: options.query,
                body: options.body,
                credential: self.state.credential.clone(),
            })
            .await;
        let record = RequestRecord {
            method,
            template: operation.map(|op| op.path),
            path: path.clone(),
            status: sent.response.as_ref().ok().map(|r| r.status),
            attempts: sent.attempts,
            duration: started.elapsed(),
        };
        tracing::info!(
            method = %record.method,
            template = record.template.as_deref().unwrap_or("-"),
            path = %record.path,
            status = record.status,
            attempts = record.attempts,
            elapsed_ms = record.duration.as_millis() as u64,
            "upstream request"
        );
        self.state
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record);
        self.outcome(method, path, sent)
    }

    /// Identifies the call's credential without revealing it; `None` when there is none.
    pub fn credential_id(&self) -> Option<CredentialId> {
        self.state.credential.as_ref().map(Credential::id)
    }

    /// The requests made so far, in the order they finished.
    pub fn records(&self) -> Vec<RequestRecord> {
        self.state
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn not_in_spec(&self, method: Method, path: String, segments: &[&str]) -> RequestError {
        let methods: Vec<&str> = self
            .shared
            .routes
            .methods_for(segments)
            .into_iter()
            .map(Method::as_str)
            .collect();
        let allowed = if methods.is_empty() {
            String::new()
        } else {
            format!(" (this path accepts {})", methods.join(", "))
        };
        RequestError::NotInSpec {
            method,
            path,
            allowed,
        }
    }

    fn take_subrequest(&self) -> Result<(), RequestError> {
        let limit = self.shared.config.max_subrequests;
        self.state
            .sent
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < limit).then_some(n + 1)
            })
            .map(drop)
            .map_err(|_| RequestError::SubrequestLimit { limit })
    }

    async fn send_with_retries(&self, request: PreparedRequest) -> Sent {
        let policy = &self.shared.config.retry;
        let mut attempts = 0;
        let mut waited = Duration::ZERO;
        loop {
            attempts += 1;
            let response = match self.shared.upstream.send(request.clone()).await {
                Ok(response) if is_retryable(response.status, request.method) => response,
                other => {
                    return Sent {
                        response: other,
                        attempts,
                        gave_up: None,
                    };
                }
            };
            let retry_after = response.retry_after.as_deref();
            match policy.wait_before(attempts, retry_after, waited, SystemTime::now()) {
                Ok(wait) => {
                    tracing::debug!(
                        status = response.status,
                        wait_ms = wait.as_millis() as u64,
                        "retrying"
                    );
                    tokio::time::sleep(wait).await;
                    waited += wait;
                }
                Err(give_up) => {
                    return Sent {
                        response: Ok(response),
                        attempts,
                        gave_up: Some(give_up),
                    };
                }
            }
        }
    }

    fn outcome(&self, method: Method, path: String, sent: Sent) -> Result<Value, RequestError> {
        let response = match sent.response {
            Ok(response) => response,
            Err(source) => {
                return Err(RequestError::Upstream {
                    method,
                    path,
                    source,
                });
            }
        };
        let body = envelope(&response, self.state.credential.as_slice());
        let api_errors = error_summary(&body);
        if let Some(give_up) = sent.gave_up {
            return Err(RequestError::RetriesExhausted {
                method,
                path,
                status: response.status,
                meaning: if response.status == 429 {
                    "rate limited"
                } else {
                    "unavailable"
                },
                attempts: sent.attempts,
                give_up,
                api: api_errors
                    .map(|e| format!(". The API said: {e}"))
                    .unwrap_or_default(),
            });
        }
        if matches!(response.status, 401 | 403) {
            let reason = self.authentication_reason(response.status, api_errors);
            return Err(RequestError::Authentication {
                status: response.status,
                method,
                path,
                reason,
            });
        }
        Ok(body)
    }

    fn authentication_reason(&self, status: u16, api_errors: Option<String>) -> String {
        let why = if self.state.credential.is_none() {
            "no API token is configured; set CLOUDFLARE_API_TOKEN for the server"
        } else if status == 401 {
            "the API token is missing or invalid (expired, revoked or mistyped); \
             check the server's CLOUDFLARE_API_TOKEN"
        } else {
            "the API token is valid but lacks permission for this path, or the resource belongs \
             to an account or zone it cannot access; grant the token the permission this endpoint \
             needs, or use a resource it can reach"
        };
        match api_errors {
            Some(errors) => format!("{why}. The API said: {errors}"),
            None => why.to_string(),
        }
    }
}
