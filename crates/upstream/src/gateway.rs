//! The way out for one `execute` call: options, path guard, spec route, budget, upstream with
//! retries, envelope, and the call's ledger of every request it sent or refused.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use codemode_spec::{Method, Operation, Problem, Spec};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::budget::{ResponseBudget, Share};
use crate::credential::{Credential, CredentialId, sha256_hex};
use crate::envelope::{EnvelopeShape, MalformedBody};
use crate::journal::Journal;
use crate::options::{OptionsError, RequestOptions};
use crate::retry::{GiveUp, RetryPolicy, is_retryable};
use crate::upstream::{PreparedRequest, RawResponse, RequestBody, Upstream, UpstreamError};
use codemode_spec::RouteTable;

/// The name the upstream is reached by unless configured otherwise.
pub const DEFAULT_API: &str = "cloudflare";

/// How many nearest operations a method and path outside the spec is told about.
const NEAREST: usize = 5;

/// Problems as one clause: `at: message; at: message`.
pub fn joined(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Limits and checks applied to every request: the `[upstream]` config section, where each key
/// left out keeps its default (`max_subrequests = 50`, `max_concurrent_subrequests = 6`,
/// `enforce_spec = true`, `check_requests = "warn"`, `max_response_mib = 16`,
/// `max_call_responses_mib = 32`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Refuse a method and path that match no operation of the spec.
    pub enforce_spec: bool,
    /// Requests one call may make (retries of a request do not count).
    pub max_subrequests: usize,
    /// Requests one call may have in flight; more wait their turn. At least 1.
    pub max_concurrent_subrequests: usize,
    /// What to do with a request whose query or body breaks its operation's schema.
    pub check_requests: RequestChecks,
    /// The most one response body may hold, in MiB; a larger one rejects its request.
    pub max_response_mib: usize,
    /// The most one call's response bodies may hold together, in MiB, from their first byte
    /// until the code has them; a response that would pass it rejects its request.
    pub max_call_responses_mib: usize,
    /// When to retry 429 and 503 responses; not a config key.
    #[serde(skip)]
    pub retry: RetryPolicy,
    /// The global code reaches the upstream by (`cloudflare`), for messages; not a config key.
    #[serde(skip)]
    pub api: String,
    /// Which envelope the upstream's responses become; not a config key.
    #[serde(skip)]
    pub envelope: EnvelopeShape,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            enforce_spec: true,
            max_subrequests: 50,
            max_concurrent_subrequests: 6,
            check_requests: RequestChecks::Warn,
            max_response_mib: 16,
            max_call_responses_mib: 32,
            retry: RetryPolicy::default(),
            api: DEFAULT_API.to_owned(),
            envelope: EnvelopeShape::Cloudflare,
        }
    }
}

/// What happens to a request whose query parameters or JSON body break its operation's
/// schema, as far as the spec tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestChecks {
    /// Send it, and tell the code's caller what looked wrong (the default: specs are often
    /// stricter or looser than the API, and the API has the last word).
    Warn,
    /// Refuse it before anything is sent, saying which fields are at fault.
    Refuse,
}

/// Why a [`GatewayConfig`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayConfigError {
    /// No request could ever be in flight.
    #[error("max_concurrent_subrequests must be at least 1, or no request could ever be sent")]
    NoConcurrency,
    /// No response could ever be received.
    #[error(
        "max_response_mib and max_call_responses_mib must be at least 1, or no response could \
         ever be read"
    )]
    NoResponseRoom,
}

impl GatewayConfig {
    /// Checks the limits: at least one request must be allowed in flight.
    pub fn validate(&self) -> Result<(), GatewayConfigError> {
        if self.max_concurrent_subrequests == 0 {
            return Err(GatewayConfigError::NoConcurrency);
        }
        if self.max_response_mib == 0 || self.max_call_responses_mib == 0 {
            return Err(GatewayConfigError::NoResponseRoom);
        }
        Ok(())
    }

    /// A fresh budget for one call's response bodies.
    fn response_budget(&self) -> ResponseBudget {
        ResponseBudget::new(
            self.max_response_mib.saturating_mul(1 << 20),
            self.max_call_responses_mib.saturating_mul(1 << 20),
        )
    }
}

/// Why a request failed. Every message says what to do about it, and none holds the credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The options were refused before anything was sent.
    #[error("invalid {api}.request options: {error}")]
    Options {
        /// The global the code called `request` on.
        api: String,
        /// What is wrong with the options.
        error: OptionsError,
    },
    /// The method and path match no operation of the spec.
    #[error(
        "{method} {path} is not an operation of the API spec{allowed}{nearest}; search the spec \
         for the right one, e.g. spec.find(\"create a DNS record\")"
    )]
    NotInSpec {
        /// The method.
        method: Method,
        /// The path.
        path: String,
        /// The methods the path does accept, as a parenthesised note, or empty.
        allowed: String,
        /// The nearest operations, as a clause, or empty.
        nearest: String,
    },
    /// The query or body breaks the operation's schema, and such requests are refused.
    #[error(
        "{method} {path} was not sent: it does not fit {method} {template}: {problems}; see \
         spec.op(\"{method}\", \"{template}\")"
    )]
    Invalid {
        /// The method.
        method: Method,
        /// The path.
        path: String,
        /// The operation's path template.
        template: String,
        /// Each problem, with the field's path, joined by `; `.
        problems: String,
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
    #[error("authentication failed (HTTP {status}) for {method} {path}: {failure}{api}")]
    Authentication {
        /// 401 or 403.
        status: u16,
        /// The method.
        method: Method,
        /// The path.
        path: String,
        /// Which of the credential's problems it is.
        failure: AuthFailure,
        /// The API's errors, as a sentence, or empty.
        api: String,
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
    /// The call's journal could not write the request down, so it was not sent.
    #[error(
        "{method} {path} was not sent: it could not be recorded first ({reason}); try again shortly"
    )]
    NotRecorded {
        /// The method.
        method: Method,
        /// The path.
        path: String,
        /// Why the journal refused.
        reason: String,
    },
    /// The API answered with a body its `Content-Type` calls JSON that does not parse.
    #[error(
        "{method} {path}: {source}. The API answered, so the request reached it; check what it \
         did before sending it again"
    )]
    MalformedBody {
        /// The method.
        method: Method,
        /// The path.
        path: String,
        /// The status, the parse failure and the start of the body.
        source: MalformedBody,
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

/// Why the API refused a request's credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// The call carried no credential at all.
    #[error("no API token is configured for the server")]
    NoCredential,
    /// The API does not accept the credential (401).
    #[error(
        "the API token is missing or invalid (expired, revoked or mistyped); check the server's API token"
    )]
    Rejected,
    /// The credential lacks the permission (403).
    #[error(
        "the API token is valid but lacks permission for this path, or the resource belongs to an \
         account or zone it cannot access; grant the token the permission this endpoint needs, \
         or use a resource it can reach"
    )]
    Forbidden,
}

impl RequestError {
    /// The HTTP status the API answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            RequestError::Authentication { status, .. }
            | RequestError::RetriesExhausted { status, .. } => Some(*status),
            RequestError::MalformedBody { source, .. } => Some(source.status),
            _ => None,
        }
    }
}

/// One entry of a call's ledger: a checked request that was sent (perhaps still awaiting its
/// answer), or refused before sending.
///
/// `D` is what the caller decided about the request (e.g. a policy decision), given to
/// [`Call::send`] or [`Call::refuse`]; it is `None` for requests sent through [`Call::request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord<D = ()> {
    /// The method.
    pub method: Method,
    /// The spec template it matched, e.g. `/zones/{zone_id}`, if any.
    pub template: Option<String>,
    /// The concrete path.
    pub path: String,
    /// The final HTTP status; `None` when it was not sent or no response came.
    pub status: Option<u16>,
    /// Times the request was sent (1 plus retries); 0 when it was refused before sending.
    pub attempts: u32,
    /// Time from the check to the final answer or the refusal, every wait included; for a
    /// request still in flight, until the ledger was read.
    pub duration: Duration,
    /// What the caller decided, if it decided.
    pub decision: Option<D>,
    /// The call's journal's id for the request, once written down before sending.
    pub intent: Option<u64>,
    /// Sent, and still without an answer when the ledger was read.
    pub in_flight: bool,
}

/// Sends agent requests to one upstream, checked against one spec. Cheap to clone.
///
/// `D` is the caller's decision about each request, kept in each call's ledger ([`RequestRecord`]).
pub struct Gateway<D = ()> {
    shared: Arc<Shared>,
    decision: PhantomData<fn() -> D>,
}

impl<D> Clone for Gateway<D> {
    fn clone(&self) -> Self {
        Gateway {
            shared: Arc::clone(&self.shared),
            decision: PhantomData,
        }
    }
}

struct Shared {
    upstream: Arc<dyn Upstream>,
    routes: RouteTable,
    /// The spec requests are checked against, when the gateway has it.
    spec: Option<Arc<Spec>>,
    config: GatewayConfig,
}

impl<D: Clone + Send + 'static> Gateway<D> {
    /// A gateway to `upstream` that allows the given operations, once `config` is valid.
    pub fn new(
        upstream: Arc<dyn Upstream>,
        operations: &[Operation],
        config: GatewayConfig,
    ) -> Result<Gateway<D>, GatewayConfigError> {
        Gateway::build(upstream, RouteTable::new(operations), None, config)
    }

    /// A gateway to `upstream` that allows the operations of `spec` and checks each request's
    /// query and body against its operation, once `config` is valid.
    pub fn for_spec(
        upstream: Arc<dyn Upstream>,
        spec: Arc<Spec>,
        config: GatewayConfig,
    ) -> Result<Gateway<D>, GatewayConfigError> {
        let routes = RouteTable::new(spec.operations());
        Gateway::build(upstream, routes, Some(spec), config)
    }

    fn build(
        upstream: Arc<dyn Upstream>,
        routes: RouteTable,
        spec: Option<Arc<Spec>>,
        config: GatewayConfig,
    ) -> Result<Gateway<D>, GatewayConfigError> {
        config.validate()?;
        Ok(Gateway {
            shared: Arc::new(Shared {
                upstream,
                routes,
                spec,
                config,
            }),
            decision: PhantomData,
        })
    }

    /// A fresh budget and ledger for one `execute` call whose requests carry `credential`.
    pub fn call(&self, credential: Option<Credential>) -> Call<D> {
        Call::new(Arc::clone(&self.shared), credential, None)
    }

    /// Like [`Gateway::call`], and each request is written to `journal` before it is sent.
    pub fn journaled_call(
        &self,
        credential: Option<Credential>,
        journal: Arc<dyn Journal>,
    ) -> Call<D> {
        Call::new(Arc::clone(&self.shared), credential, Some(journal))
    }
}

/// One `execute` call's requests: counted, limited in concurrency, and kept in one ledger in the
/// order they were sent or refused. Clones share the budget and the ledger.
pub struct Call<D = ()> {
    shared: Arc<Shared>,
    state: Arc<CallState<D>>,
}

impl<D> Clone for Call<D> {
    fn clone(&self) -> Self {
        Call {
            shared: Arc::clone(&self.shared),
            state: Arc::clone(&self.state),
        }
    }
}

struct CallState<D> {
    credential: Option<Credential>,
    journal: Option<Arc<dyn Journal>>,
    sent: AtomicUsize,
    in_flight: Semaphore,
    /// Bytes its response bodies may hold.
    budget: ResponseBudget,
    /// Each entry, with when it was checked while it is still in flight.
    records: Mutex<Vec<(RequestRecord<D>, Option<Instant>)>>,
}

/// An envelope, and the share of its call's response budget it holds until dropped.
#[derive(Debug)]
pub struct Received {
    /// The API's envelope.
    pub envelope: Value,
    /// Counts the response against its call's budget; drop it once the code has the envelope.
    pub held: Share,
}

/// The field of the caller's span (if it has one) that sending a checked request records how
/// many times it was sent in: 1 plus retries.
pub const ATTEMPTS_FIELD: &str = "codemode.attempts";

/// What sending, with retries, came to.
struct Sent {
    response: Result<RawResponse, UpstreamError>,
    attempts: u32,
    gave_up: Option<GiveUp>,
}

/// A request that passed every check, matched the spec and was counted against the call's
/// budget, not yet sent: what policy decides on.
#[derive(Debug)]
pub struct CheckedRequest {
    options: RequestOptions,
    operation: Option<Operation>,
    problems: Vec<Problem>,
    checked_at: Instant,
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

    /// How the query or body breaks the operation's schema, when requests that do are sent
    /// anyway; empty when they fit.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
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

impl<D: Clone + Send + 'static> Call<D> {
    fn new(
        shared: Arc<Shared>,
        credential: Option<Credential>,
        journal: Option<Arc<dyn Journal>>,
    ) -> Call<D> {
        let concurrency = shared.config.max_concurrent_subrequests;
        let budget = shared.config.response_budget();
        Call {
            shared,
            state: Arc::new(CallState {
                credential,
                journal,
                sent: AtomicUsize::new(0),
                in_flight: Semaphore::new(concurrency),
                budget,
                records: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Carries out one `cloudflare.request(options)` and returns the API's envelope; its ledger
    /// entry has no decision.
    pub async fn request(&self, options: &Value) -> Result<Value, RequestError> {
        let checked = self.check(options)?;
        Ok(self.send_deciding(checked, None).await?.envelope)
    }

    /// Checks options, path and spec route, then counts the request against the call's budget,
    /// whatever is decided about it next (a request refused after this still counts); sends
    /// and records nothing.
    pub fn check(&self, raw: &Value) -> Result<CheckedRequest, RequestError> {
        let options = RequestOptions::parse(raw).map_err(|error| RequestError::Options {
            api: self.shared.config.api.clone(),
            error,
        })?;
        let segments: Vec<&str> = options.path.segments().collect();
        let operation = self.shared.routes.find(options.method, &segments).cloned();
        if operation.is_none() && self.shared.config.enforce_spec {
            return Err(self.not_in_spec(options.method, options.path.to_string(), &segments));
        }
        self.take_subrequest()?;
        let problems = match (&self.shared.spec, &operation) {
            (Some(spec), Some(operation)) => {
                let query: Vec<&str> = options.query.iter().map(|(key, _)| key.as_str()).collect();
                let json = raw.get("rawBody").and_then(Value::as_bool) != Some(true);
                let body = raw.get("body").filter(|_| json);
                spec.check_request(operation, &query, body)
            }
            _ => Vec::new(),
        };
        if let (false, RequestChecks::Refuse, Some(operation)) = (
            problems.is_empty(),
            self.shared.config.check_requests,
            &operation,
        ) {
            return Err(RequestError::Invalid {
                method: options.method,
                path: options.path.to_string(),
                template: operation.path.clone(),
                problems: joined(&problems),
            });
        }
        Ok(CheckedRequest {
            options,
            operation,
            problems,
            checked_at: Instant::now(),
        })
    }

    /// Sends a checked request and returns the API's envelope; the ledger entry carries
    /// `decision`.
    pub async fn send(&self, checked: CheckedRequest, decision: D) -> Result<Value, RequestError> {
        Ok(self.send_deciding(checked, Some(decision)).await?.envelope)
    }

    /// Like [`Call::send`], and the envelope keeps its share of the call's response budget
    /// until the caller drops it (once the code has it).
    pub async fn send_held(
        &self,
        checked: CheckedRequest,
        decision: D,
    ) -> Result<Received, RequestError> {
        self.send_deciding(checked, Some(decision)).await
    }

    /// Records that the caller refused a checked request: nothing is sent, and the ledger entry
    /// carries `decision`, no status and no attempts.
    pub fn refuse(&self, checked: CheckedRequest, decision: D) {
        self.push(record_of(&checked, None, 0, Some(decision)), None);
    }

    /// Identifies the call's credential without revealing it; `None` when there is none.
    pub fn credential_id(&self) -> Option<CredentialId> {
        self.state.credential.as_ref().map(Credential::id)
    }

    /// The ledger: every request sent or refused so far, in the order each was sent or
    /// refused, those still awaiting an answer included.
    pub fn records(&self) -> Vec<RequestRecord<D>> {
        self.ledger()
            .iter()
            .map(|(record, in_flight_since)| RequestRecord {
                duration: in_flight_since.map_or(record.duration, |since| since.elapsed()),
                ..record.clone()
            })
            .collect()
    }

    async fn send_deciding(
        &self,
        checked: CheckedRequest,
        decision: Option<D>,
    ) -> Result<Received, RequestError> {
        // The semaphore is never closed, so acquiring only ever waits.
        let _permit = self.state.in_flight.acquire().await.ok();
        let intent = match &self.state.journal {
            None => None,
            Some(journal) => match journal.before_send(&checked).await {
                Ok(intent) => Some(intent),
                Err(reason) => {
                    self.push(record_of(&checked, None, 0, decision), None);
                    return Err(RequestError::NotRecorded {
                        method: checked.method(),
                        path: checked.path().to_string(),
                        reason,
                    });
                }
            },
        };
        let in_flight = RequestRecord {
            intent,
            in_flight: true,
            ..record_of(&checked, None, 1, decision.clone())
        };
        let slot = self.push(in_flight, Some(checked.checked_at));
        let sent = self
            .send_with_retries(PreparedRequest {
                method: checked.options.method,
                path: checked.options.path.clone(),
                query: checked.options.query.clone(),
                body: checked.options.body.clone(),
                credential: self.state.credential.clone(),
                budget: self.state.budget.clone(),
            })
            .await;
        tracing::Span::current().record(ATTEMPTS_FIELD, sent.attempts);
        let status = sent.response.as_ref().ok().map(|r| r.status);
        let record = RequestRecord {
            intent,
            ..record_of(&checked, status, sent.attempts, decision)
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
        let (method, path) = (record.method, record.path.clone());
        self.ledger()[slot] = (record, None);
        self.outcome(method, path, sent)
    }

    /// Adds `record` to the ledger, with when it was checked if it is in flight; returns its place.
    fn push(&self, record: RequestRecord<D>, in_flight_since: Option<Instant>) -> usize {
        let mut ledger = self.ledger();
        ledger.push((record, in_flight_since));
        ledger.len() - 1
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Vec<(RequestRecord<D>, Option<Instant>)>> {
        self.state
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
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
        let nearest: Vec<String> = self
            .shared
            .routes
            .nearest(method, segments, NEAREST)
            .into_iter()
            .map(|operation| format!("{} {}", operation.method, operation.path))
            .collect();
        let nearest = if nearest.is_empty() {
            String::new()
        } else {
            format!("; the nearest operations are {}", nearest.join(", "))
        };
        RequestError::NotInSpec {
            method,
            path,
            allowed,
            nearest,
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

    fn outcome(&self, method: Method, path: String, sent: Sent) -> Result<Received, RequestError> {
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
        let status = response.status;
        let held = self.state.budget.hold(response.body.len());
        let shape = self.shared.config.envelope;
        let body = match shape.envelope(response, self.state.credential.as_slice()) {
            Ok(body) => body,
            Err(source) => {
                return Err(RequestError::MalformedBody {
                    method,
                    path,
                    source,
                });
            }
        };
        let api = shape
            .summary(&body)
            .map(|e| format!(". The API said: {e}"))
            .unwrap_or_default();
        if let Some(give_up) = sent.gave_up {
            return Err(RequestError::RetriesExhausted {
                method,
                path,
                status,
                meaning: if status == 429 {
                    "rate limited"
                } else {
                    "unavailable"
                },
                attempts: sent.attempts,
                give_up,
                api,
            });
        }
        if let Some(failure) = self.auth_failure(status) {
            return Err(RequestError::Authentication {
                status,
                method,
                path,
                failure,
                api,
            });
        }
        Ok(Received {
            envelope: body,
            held,
        })
    }

    /// Why a 401 or 403 happened; `None` for any other status.
    fn auth_failure(&self, status: u16) -> Option<AuthFailure> {
        match status {
            401 | 403 if self.state.credential.is_none() => Some(AuthFailure::NoCredential),
            401 => Some(AuthFailure::Rejected),
            403 => Some(AuthFailure::Forbidden),
            _ => None,
        }
    }
}

/// The ledger entry of `checked`, finished now.
fn record_of<D>(
    checked: &CheckedRequest,
    status: Option<u16>,
    attempts: u32,
    decision: Option<D>,
) -> RequestRecord<D> {
    RequestRecord {
        method: checked.method(),
        template: checked.operation.as_ref().map(|op| op.path.clone()),
        path: checked.path().to_string(),
        status,
        attempts,
        duration: checked.checked_at.elapsed(),
        decision,
        intent: None,
        in_flight: false,
    }
}
