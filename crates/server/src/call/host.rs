//! What `execute` code may reach: `cloudflare.request` (checked, then decided by policy and,
//! where policy asks, by a person), account lookup (whose `GET /accounts` goes the same way),
//! console capture, and the clock `Date` reads (through the call's journal when it has one).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use codemode_audit::RequestDecision;
use codemode_policy::{Access, Decision, Policy, RequestFacts};
use codemode_sandbox::{
    CancelToken, DEFAULT_API_GLOBAL, Delivery, Determinism, Host, LogLine, Rejection, unix_ms,
};
use codemode_upstream::{Call, CheckedRequest, Received, RequestError, joined, resolve_account};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{Instrument, Span};

use crate::call::approval::{ApprovalState, Approver, pending_request};
use crate::call::audit::Ledgered;
use crate::call::error::RequestRefused;
use crate::call::recording::{Begun, Recording};
use crate::telemetry::traces;
use crate::wording;

/// One thing worth telling the client while the code runs.
pub enum Update {
    /// A console line.
    Log(LogLine),
    /// An upstream request finished; the text says which and how.
    Request(String),
}

/// One upstream besides the first, for one call: its budget, credential and ledger, and its
/// policy.
pub struct OtherCall {
    /// The global the code reaches it by.
    pub name: String,
    /// The call's budget, credential and ledger for it.
    pub call: Call<RequestDecision>,
    /// Its rules.
    pub policy: Arc<Policy>,
}

/// Everything one `execute` call's host needs.
pub struct HostParts {
    /// The global the first upstream is reached by.
    pub name: String,
    /// The upstreams besides the first.
    pub others: Vec<OtherCall>,
    /// The call's budget, credential and ledger of requests with their decisions.
    pub call: Call<RequestDecision>,
    /// The account the call named.
    pub explicit_account: Option<String>,
    /// The account the server is configured with.
    pub configured_account: Option<String>,
    /// The rules each request is checked against.
    pub policy: Arc<Policy>,
    /// What the caller's scopes allow.
    pub access: Access,
    /// The caller's subject.
    pub subject: String,
    /// How approvals are obtained.
    pub approver: Approver,
    /// Where live output goes.
    pub updates: UnboundedSender<Update>,
    /// The call's response journal, when it may pause and be resumed elsewhere.
    pub recording: Option<Arc<Recording>>,
    /// Stops the call, once it left its journal.
    pub stop: CancelToken,
}

/// The sandbox host for one `execute` call.
pub struct ExecuteHost {
    shared: Arc<Shared>,
}

struct Shared {
    parts: HostParts,
    determinism: Determinism,
    approvals: ApprovalState,
    logs: Mutex<Vec<LogLine>>,
    notes: Mutex<Vec<String>>,
    account: Mutex<Option<String>>,
    /// The tool call's span, parent of each request's.
    span: Span,
}

impl ExecuteHost {
    /// A host for one call, whose requests' spans are children of the current span.
    pub fn new(parts: HostParts) -> Self {
        Self {
            shared: Arc::new(Shared {
                determinism: parts
                    .recording
                    .as_ref()
                    .map_or_else(Determinism::fresh, |recording| recording.determinism()),
                parts,
                approvals: ApprovalState::default(),
                logs: Mutex::new(Vec::new()),
                notes: Mutex::new(Vec::new()),
                account: Mutex::new(None),
                span: Span::current(),
            }),
        }
    }

    /// Every console line the code wrote, in order.
    pub fn logs(&self) -> Vec<LogLine> {
        lock(&self.shared.logs).clone()
    }

    /// What the server noted about the call's requests, in order: those sent although their
    /// query or body did not fit the spec.
    pub fn notes(&self) -> Vec<String> {
        lock(&self.shared.notes).clone()
    }

    /// The call's ledger: every request sent or refused, in order per upstream, with what was
    /// decided and the upstream's global.
    pub fn ledger(&self) -> Vec<Ledgered> {
        let parts = &self.shared.parts;
        let tagged = |name: &str, call: &Call<RequestDecision>| {
            call.records()
                .into_iter()
                .map(|record| (name.to_string(), record))
                .collect::<Vec<_>>()
        };
        let mut ledger = tagged(&parts.name, &parts.call);
        for other in &parts.others {
            ledger.extend(tagged(&other.name, &other.call));
        }
        ledger
    }

    /// The account the call acted on: the one named or configured, else the one the code read.
    pub fn account(&self) -> Option<String> {
        let parts = &self.shared.parts;
        parts
            .explicit_account
            .clone()
            .or_else(|| parts.configured_account.clone())
            .or_else(|| lock(&self.shared.account).clone())
    }

    /// The approvals the call still needs.
    pub fn approvals(&self) -> &ApprovalState {
        &self.shared.approvals
    }
}

impl Host for ExecuteHost {
    fn request(&self, options: Value) -> BoxFuture<'static, Result<Delivery, Rejection>> {
        self.shared.made_request();
        let shared = self.shared.clone();
        async move {
            shared
                .request(options)
                .await
                .map_err(|e| Rejection::new(e.to_string()))
        }
        .boxed()
    }

    fn request_to(
        &self,
        api: &str,
        options: Value,
    ) -> BoxFuture<'static, Result<Delivery, Rejection>> {
        self.shared.made_request();
        let shared = self.shared.clone();
        let api = api.to_owned();
        async move {
            let Some(other) = shared.parts.others.iter().find(|other| other.name == api) else {
                return Err(Rejection::new(format!("{api}.request: no such upstream")));
            };
            shared
                .request_via(&other.call, &other.policy, options)
                .await
                .map_err(|e| Rejection::new(e.to_string()))
        }
        .boxed()
    }

    fn account_id(&self) -> BoxFuture<'static, Result<String, Rejection>> {
        let shared = self.shared.clone();
        async move {
            let parts = &shared.parts;
            let account = resolve_account(
                parts.explicit_account.as_deref(),
                parts.configured_account.as_deref(),
                |discovery| {
                    let shared = Arc::clone(&shared);
                    async move { shared.discover_account(discovery).await }
                },
            )
            .await
            .map_err(|e| Rejection::new(wording::account_error(&e)))?;
            *lock(&shared.account) = Some(account.clone());
            Ok(account)
        }
        .boxed()
    }

    fn log(&self, line: &LogLine) {
        lock(&self.shared.logs).push(line.clone());
        let _ = self.shared.parts.updates.send(Update::Log(line.clone()));
    }

    fn waiting_for_people(&self) -> Duration {
        self.shared.approvals.waited()
    }

    fn determinism(&self) -> Determinism {
        self.shared.determinism
    }

    fn clock_ms(&self) -> i64 {
        let Some(recording) = &self.shared.parts.recording else {
            return unix_ms();
        };
        recording.clock_ms().unwrap_or_else(|| {
            self.shared.parts.stop.cancel();
            unix_ms()
        })
    }
}

impl Shared {
    /// Tells the call's journal, if any, that the code made a request.
    fn made_request(&self) {
        if let Some(recording) = &self.parts.recording {
            recording.made_request();
        }
    }

    /// Sends account discovery's `GET /accounts` to the upstream named `cloudflare`, whose
    /// account `accountId` is; without one, says so.
    async fn discover_account(&self, discovery: Value) -> Result<Value, String> {
        let parts = &self.parts;
        let sent = if parts.name == DEFAULT_API_GLOBAL {
            self.request(discovery).await
        } else {
            let Some(other) = parts
                .others
                .iter()
                .find(|other| other.name == DEFAULT_API_GLOBAL)
            else {
                return Err(format!(
                    "accountId is the Cloudflare account, and no upstream is named \
                     `{DEFAULT_API_GLOBAL}`; put ids in paths yourself"
                ));
            };
            self.request_via(&other.call, &other.policy, discovery)
                .await
        };
        sent.map(|delivery| delivery.envelope)
            .map_err(|refused| refused.to_string())
    }

    /// Checks, decides, maybe asks, then sends one request; the call's ledger keeps it with
    /// the decision, sent or refused. A sent envelope holds its share of the call's response
    /// budget until the code has it.
    async fn request(&self, options: Value) -> Result<Delivery, RequestRefused> {
        self.request_via(&self.parts.call, &self.parts.policy, options)
            .await
    }

    /// [`Shared::request`] to the upstream of `call`, decided by `policy`: answered from the
    /// call's journal when it has the answer, else sent; the journal keeps what the code saw.
    async fn request_via(
        &self,
        call: &Call<RequestDecision>,
        policy: &Policy,
        options: Value,
    ) -> Result<Delivery, RequestRefused> {
        let checked = call.check(&options).inspect_err(|error| {
            if matches!(error, RequestError::SubrequestLimit { .. }) {
                crate::telemetry::meters().subrequest_limit();
            }
        })?;
        let Some(recording) = &self.parts.recording else {
            return Ok(delivered(
                self.decide_and_send(call, policy, checked, None).await?,
            ));
        };
        match recording.begin(&pending_request(&checked)) {
            Begun::Replayed(seen) => seen.map(Delivery::from).map_err(RequestRefused::Recorded),
            Begun::Diverged(why) => {
                self.parts.stop.cancel();
                Err(RequestRefused::Recorded(why))
            }
            Begun::Live(place) => {
                let sent = self
                    .decide_and_send(call, policy, checked, Some((recording, place)))
                    .await;
                let seen = match &sent {
                    Ok(received) => Ok(received.envelope.clone()),
                    Err(refused) => Err(refused.to_string()),
                };
                recording.answered(place, seen);
                Ok(delivered(sent?))
            }
        }
    }

    /// Decides, maybe asks, then sends one checked request (at `place` in `recording`); the
    /// call's ledger keeps it with the decision, sent or refused.
    async fn decide_and_send(
        &self,
        call: &Call<RequestDecision>,
        policy: &Policy,
        checked: CheckedRequest,
        recorded: Option<(&Arc<Recording>, usize)>,
    ) -> Result<Received, RequestRefused> {
        let parts = &self.parts;
        if !checked.problems().is_empty() {
            let template = checked
                .operation()
                .map_or("", |operation| operation.path.as_str());
            lock(&self.notes).push(format!(
                "{} {} was sent, but does not fit {} {template} in the spec: {}",
                checked.method(),
                checked.path(),
                checked.method(),
                joined(checked.problems())
            ));
        }
        let decided = match decide(policy, parts.access, &checked) {
            Decision::Allow { .. } => Ok(RequestDecision::Allow),
            Decision::Deny { rule } => Err(RequestRefused::Denied {
                request: pending_request(&checked),
                rule,
            }),
            Decision::Refused(missing) => Err(RequestRefused::Scope(missing)),
            Decision::Approve { rule } => {
                parts
                    .approver
                    .approve(&checked, &rule, &parts.subject, &self.approvals)
                    .await
            }
        };
        let decision = match decided {
            Ok(decision) => decision,
            Err(refused) => {
                call.refuse(checked, refused.decision(&parts.subject));
                return Err(refused);
            }
        };
        let request = format!("{} {}", checked.method(), checked.path());
        let span = traces::request_span(
            &self.span,
            checked.method().as_str(),
            checked.operation().map(|operation| operation.path.as_str()),
        );
        if let Some((recording, place)) = recorded
            && let Err(lost) = recording.sent(place).await
        {
            parts.stop.cancel();
            call.refuse(checked, decision);
            return Err(RequestRefused::Recorded(lost.to_string()));
        }
        let outcome = call
            .send_held(checked, decision)
            .instrument(span.clone())
            .await;
        let status = match &outcome {
            Ok(received) => received.envelope["status"]
                .as_u64()
                .and_then(|status| u16::try_from(status).ok()),
            Err(error) => error.status(),
        };
        if let Some(status) = status {
            span.record("http.response.status_code", status);
        }
        let _ = parts
            .updates
            .send(Update::Request(describe(&request, status)));
        Ok(outcome?)
    }
}

/// A sent request's envelope for the code, with its share of the call's response budget.
fn delivered(received: Received) -> Delivery {
    Delivery {
        envelope: received.envelope,
        held: Some(Box::new(received.held)),
    }
}

/// What `policy` decides about a checked request, for a caller with `access`.
fn decide(policy: &Policy, access: Access, checked: &CheckedRequest) -> Decision {
    let facts = match checked.operation() {
        Some(operation) => RequestFacts::for_operation(operation, checked.path()),
        None => RequestFacts::unmatched(checked.method(), checked.path()),
    };
    policy.decide(&facts, access)
}

/// One line about a finished request, e.g. `GET /zones → 200`.
fn describe(request: &str, status: Option<u16>) -> String {
    let status = status.map_or_else(|| "failed".to_string(), |s| s.to_string());
    format!("{request} → {status}")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
