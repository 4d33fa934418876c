//! Human approval of requests that policy marks `approve`: asked through the client when it
//! can, otherwise deferred to an approval id a person decides over HTTP.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use codemode_audit::{
    ApprovalDecision, ApprovalError, ApprovalStatus, NewApproval, PendingRequest, RequestDecision,
    Timestamp,
};
use codemode_sandbox::CancelToken;
use codemode_upstream::{CheckedRequest, sha256_hex};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::call::caller::Caller;
use crate::shown;
use crate::stores;
use crate::telemetry::DecidedVia;

/// Characters of a request body a question shows.
const QUESTION_BODY_CHARS: usize = 500;
use crate::call::error::{CallError, RequestRefused};

/// A question for the person at the client; the transport that owns the connection asks it.
pub struct Question {
    /// What the person is asked.
    pub message: String,
    /// The request the question is about.
    pub request: PendingRequest,
    /// Where the answer goes; `None` when the client could not be asked.
    pub reply: oneshot::Sender<Option<Answer>>,
}

/// The person's answer to a [`Question`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Carry the request out.
    Accept,
    /// Refuse it.
    Decline,
    /// Dismissed without a decision.
    Cancel,
}

/// How this call gets approvals.
pub enum Approver {
    /// Ask the person through the client.
    Ask {
        /// Questions go to the transport, which owns the client connection.
        asks: mpsc::Sender<Question>,
        /// How long to wait for an answer.
        timeout: Duration,
        /// How many questions calls and subjects may ask.
        limits: Arc<QuestionLimits>,
    },
    /// The client cannot ask: use an approval a person granted beforehand, or stop the call
    /// and hand back an approval to decide.
    Deferred {
        /// Where approvals are kept.
        store: stores::Approvals,
        /// The approval the call names (`execute({approval_id})`), if any.
        approval_id: Option<String>,
        /// Stops the sandbox once a request needs an approval that does not exist yet.
        stop: CancelToken,
    },
}

/// The approvals one `execute` call needed: requests waiting for a decision, and time spent
/// waiting for people (which does not count against the sandbox's timeout).
#[derive(Default)]
pub struct ApprovalState {
    pending: Mutex<Vec<PendingRequest>>,
    waited: Mutex<Waited>,
    asked: Mutex<Asked>,
}

/// The questions one call has asked.
#[derive(Default)]
struct Asked {
    count: u32,
    declined: bool,
}

/// How many questions a person can be asked: per call, and per subject in any hour. A call
/// stops asking after its first question that was not accepted.
pub struct QuestionLimits {
    per_call: u32,
    per_subject_per_hour: u32,
    recent: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// The window of the per-subject question limit.
const QUESTION_WINDOW: Duration = Duration::from_secs(3_600);

impl QuestionLimits {
    /// At most `per_call` questions per call and `per_subject_per_hour` per subject.
    pub fn new(per_call: u32, per_subject_per_hour: u32) -> QuestionLimits {
        QuestionLimits {
            per_call,
            per_subject_per_hour,
            recent: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a question `subject`'s call wants to ask, or says why it may not.
    fn admit(&self, subject: &str, state: &ApprovalState) -> Result<(), &'static str> {
        let mut asked = state.asked.lock().unwrap_or_else(PoisonError::into_inner);
        if asked.declined {
            return Err("an earlier question in this call was not approved");
        }
        if asked.count >= self.per_call {
            return Err("this call has asked as many questions as one call may");
        }
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        recent.retain(|_, times| {
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) >= QUESTION_WINDOW)
            {
                times.pop_front();
            }
            !times.is_empty()
        });
        let times = recent.entry(subject.to_string()).or_default();
        if times.len() >= self.per_subject_per_hour as usize {
            return Err(
                "this caller has been asked as many questions this hour as the server \
                        allows",
            );
        }
        times.push_back(now);
        asked.count += 1;
        Ok(())
    }
}

#[derive(Default)]
struct Waited {
    total: Duration,
    since: Option<Instant>,
}

impl ApprovalState {
    /// Requests that still need a person's decision.
    pub fn pending(&self) -> Vec<PendingRequest> {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Time spent so far waiting for people, including a wait in progress.
    pub fn waited(&self) -> Duration {
        let waited = self.waited.lock().unwrap_or_else(PoisonError::into_inner);
        waited.total + waited.since.map_or(Duration::ZERO, |since| since.elapsed())
    }

    fn start_waiting(&self) {
        self.waited
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .since = Some(Instant::now());
    }

    fn stop_waiting(&self) {
        let mut waited = self.waited.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(since) = waited.since.take() {
            waited.total += since.elapsed();
        }
    }
}

impl Approver {
    /// Gets a person's approval for `request`, which policy `rule` requires. `Ok` carries how
    /// it was approved; `Err` why it was not.
    pub async fn approve(
        &self,
        request: &CheckedRequest,
        rule: &str,
        subject: &str,
        state: &ApprovalState,
    ) -> Result<RequestDecision, RequestRefused> {
        let pending = pending_request(request);
        match self {
            Approver::Ask {
                asks,
                timeout,
                limits,
            } => {
                if let Err(why) = limits.admit(subject, state) {
                    return Err(RequestRefused::NotAsked {
                        request: pending,
                        rule: rule.to_string(),
                        why,
                    });
                }
                state.start_waiting();
                let answer = ask(asks, request, &pending, rule, *timeout).await;
                state.stop_waiting();
                if let Some(decided @ (Answer::Accept | Answer::Decline)) = answer {
                    crate::telemetry::meters()
                        .decided(DecidedVia::Client, decided == Answer::Accept);
                }
                if answer != Some(Answer::Accept) {
                    state
                        .asked
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .declined = true;
                }
                match answer {
                    Some(Answer::Accept) => Ok(RequestDecision::Approved {
                        by: subject.to_string(),
                        via: "elicitation".into(),
                    }),
                    other => Err(RequestRefused::NotApproved {
                        request: pending,
                        rule: rule.to_string(),
                        why: match other {
                            Some(Answer::Decline) => "declined",
                            Some(Answer::Cancel) => "cancelled",
                            _ => "no answer in time",
                        },
                    }),
                }
            }
            Approver::Deferred {
                store,
                approval_id,
                stop,
            } => {
                if let Some(id) = approval_id {
                    let consumed =
                        match store.consume(id, subject, &pending, Timestamp::now()).await {
                            Ok(()) => store.get(id).await,
                            Err(error) => Err(error),
                        };
                    if let Ok(approval) = consumed {
                        return Ok(RequestDecision::Approved {
                            by: approval.decided_by.unwrap_or_default(),
                            via: format!("approval {}", approval.id),
                        });
                    }
                }
                state
                    .pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(pending.clone());
                stop.cancel();
                Err(RequestRefused::NeedsApproval {
                    request: pending,
                    rule: rule.to_string(),
                })
            }
        }
    }
}

/// The request as an approval names it: method, path with its query, and body hash.
pub fn pending_request(request: &CheckedRequest) -> PendingRequest {
    PendingRequest {
        method: request.method().as_str().to_string(),
        path: request.target(),
        body_sha256: request.body_sha256(),
    }
}

async fn ask(
    asks: &mpsc::Sender<Question>,
    request: &CheckedRequest,
    pending: &PendingRequest,
    rule: &str,
    timeout: Duration,
) -> Option<Answer> {
    let (reply, answer) = oneshot::channel();
    let message = question(request, rule);
    let request = pending.clone();
    asks.send(Question {
        message,
        request,
        reply,
    })
    .await
    .ok()?;
    match tokio::time::timeout(timeout, answer).await {
        Ok(Ok(answer)) => answer,
        _ => None,
    }
}

/// What the person is asked. The server's words and the request's method and path come first,
/// each on its own line; the body the agent's code chose comes last, labelled as such. Every
/// character the agent chose is escaped, so it cannot redraw the prompt or reorder the line.
fn question(request: &CheckedRequest, rule: &str) -> String {
    let mut text = format!(
        "Approve {} {}?\nPolicy rule \"{}\" requires a person's approval: accept to carry it \
         out, decline to refuse it.",
        request.method(),
        shown::escaped(&request.target()),
        shown::escaped(rule),
    );
    match request.body() {
        None => text.push_str("\nNo body."),
        Some(body) => {
            let content = String::from_utf8_lossy(&body.bytes);
            text.push_str(&format!(
                "\nBody chosen by the agent's code ({}, {} bytes):\n{}",
                shown::escaped(&body.content_type),
                body.bytes.len(),
                shown::excerpt(&content, QUESTION_BODY_CHARS),
            ));
        }
    }
    text
}

/// The approvals store and how long people have, shared by every call.
pub struct Approvals {
    /// Where approvals are kept.
    pub store: stores::Approvals,
    /// The approval page's base URL, once the HTTP server listens.
    pub page: OnceLock<String>,
    /// How long a question waits for the person's answer.
    pub ask_timeout: Duration,
    /// How long an approval id stays usable.
    pub expiry: Duration,
    /// Whether to ask through clients at all.
    pub ask_clients: bool,
    /// How many questions may be asked.
    pub limits: Arc<QuestionLimits>,
}

impl Approvals {
    /// How a call gets approvals: by asking through the client when it can and asking is on,
    /// else by approval id.
    pub fn approver(
        &self,
        asks: Option<mpsc::Sender<Question>>,
        approval_id: Option<String>,
        stop: CancelToken,
    ) -> Approver {
        match asks.filter(|_| self.ask_clients) {
            Some(asks) => Approver::Ask {
                asks,
                timeout: self.ask_timeout,
                limits: self.limits.clone(),
            },
            None => Approver::Deferred {
                store: self.store.clone(),
                approval_id,
                stop,
            },
        }
    }

    /// Why `approval_id` cannot let any request of `subject` through, if it cannot: it does
    /// not exist, is another subject's, was rejected, has expired, or every request it covers
    /// went through already.
    pub async fn unusable(&self, approval_id: &str, subject: &str) -> Option<CallError> {
        let why = match self.store.get(approval_id).await {
            Err(ApprovalError::NotFound(_)) => "no approval has this id".to_string(),
            Err(error) => return Some(CallError::ApprovalStore(error)),
            Ok(approval) if approval.subject != subject => {
                "it belongs to another subject".to_string()
            }
            Ok(approval) if approval.status == ApprovalStatus::Rejected => {
                "it was rejected".to_string()
            }
            Ok(approval) if approval.is_expired(Timestamp::now()) => "it has expired".to_string(),
            Ok(approval)
                if approval.status == ApprovalStatus::Approved
                    && approval
                        .requests
                        .iter()
                        .all(|item| item.consumed_at.is_some()) =>
            {
                "it was already used: each request it approved has gone through once".to_string()
            }
            Ok(_) => return None,
        };
        Some(CallError::UnusableApproval {
            id: shown::escaped(approval_id),
            why,
        })
    }

    /// The approval a call used, for its audit record.
    pub async fn used(&self, approval_id: Option<&str>) -> Vec<ApprovalDecision> {
        let Some(id) = approval_id else {
            return Vec::new();
        };
        match self.store.get(id).await {
            Ok(approval) => vec![ApprovalDecision {
                approval_id: approval.id,
                status: approval.status,
                by: approval.decided_by,
                via: Some("http".into()),
            }],
            _ => Vec::new(),
        }
    }

    /// Stores an approval for the requests a call stopped at, and returns the body that tells
    /// the agent how to get it decided, with the audit's note of it.
    pub async fn defer(
        &self,
        caller: &Caller,
        code: &str,
        pending: Vec<PendingRequest>,
    ) -> Result<(Value, ApprovalDecision), CallError> {
        let now = Timestamp::now();
        let request = NewApproval {
            subject: caller.subject().to_string(),
            session: caller.session.clone(),
            code_sha256: sha256_hex(code.as_bytes()),
            pending,
            expires_at: now.saturating_add(self.expiry),
        };
        let approval = self.store.create(request, now).await?;
        let id = &approval.id;
        let page = self.page.get().map(|base| format!("{base}/approvals/{id}"));
        let route = match &page {
            Some(page) => format!(
                "on the approval page {page}, with `codemode approvals approve {id}` on the server's machine,"
            ),
            None => format!("with `codemode approvals approve {id}` on the server's machine"),
        };
        let mut required = json!({
            "approval_id": id,
            "pending": approval.requests.iter().map(|item| &item.request).collect::<Vec<_>>(),
            "expires_at": approval.expires_at.to_string(),
            "how_to_approve": format!(
                "Ask a person to decide; you cannot approve it yourself. They approve {route} \
                 or with POST /approvals/{id}/approve (the `approve` scope). Then call execute \
                 again with the same code and approval_id \"{id}\"; each approved request goes \
                 through once."
            ),
        });
        if let Some(page) = page {
            required["approval_page"] = json!(page);
        }
        let body = json!({ "approval_required": required });
        let decision = ApprovalDecision {
            approval_id: approval.id.clone(),
            status: ApprovalStatus::Pending,
            by: None,
            via: None,
        };
        Ok((body, decision))
    }
}
