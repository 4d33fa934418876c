//! Human approval of requests that policy marks `approve`: asked through the client
//! (elicitation) when it can, otherwise deferred to an approval id a person decides over HTTP.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use codemode_audit::{ApprovalStore, PendingRequest, RequestDecision, Timestamp};
use codemode_sandbox::CancelToken;
use codemode_upstream::CheckedRequest;
use rmcp::model::{ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema};
use tokio::sync::{mpsc, oneshot};

/// A question for the person at the client, answered by the MCP handler's task.
pub struct Ask {
    /// The elicitation to send.
    pub params: ElicitRequestParams,
    /// Where the answer goes; `None` when the client could not be asked.
    pub reply: oneshot::Sender<Option<ElicitResult>>,
}

/// How this call gets approvals.
pub enum Approver {
    /// Ask the person through the client's `elicitation/create`.
    Ask {
        /// Questions go to the handler, which owns the client connection.
        asks: mpsc::Sender<Ask>,
        /// How long to wait for an answer.
        timeout: Duration,
    },
    /// The client cannot ask: use an approval a person granted beforehand, or stop the call
    /// and hand back an approval to decide.
    Deferred {
        /// Where approvals are kept.
        store: Arc<ApprovalStore>,
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
    /// it was approved; `Err` the message the agent's code sees.
    pub async fn approve(
        &self,
        request: &CheckedRequest,
        rule: &str,
        subject: &str,
        state: &ApprovalState,
    ) -> Result<RequestDecision, (RequestDecision, String)> {
        let pending = pending_request(request);
        match self {
            Approver::Ask { asks, timeout } => {
                state.start_waiting();
                let answer = ask(asks, request, rule, *timeout).await;
                state.stop_waiting();
                match answer {
                    Some(ElicitationAction::Accept) => Ok(RequestDecision::Approved {
                        by: subject.to_string(),
                        via: "elicitation".into(),
                    }),
                    other => Err((
                        RequestDecision::Rejected {
                            by: subject.to_string(),
                        },
                        format!(
                            "{pending} was not approved ({}); policy rule \"{rule}\" requires a \
                             person's approval",
                            match other {
                                Some(ElicitationAction::Decline) => "declined",
                                Some(ElicitationAction::Cancel) => "cancelled",
                                _ => "no answer in time",
                            }
                        ),
                    )),
                }
            }
            Approver::Deferred {
                store,
                approval_id,
                stop,
            } => {
                if let Some(id) = approval_id {
                    let store = store.clone();
                    let (id, owner, wanted) = (id.clone(), subject.to_string(), pending.clone());
                    let consumed = tokio::task::spawn_blocking(move || {
                        store
                            .consume(&id, &owner, &wanted, Timestamp::now())
                            .and_then(|()| store.get(&id))
                    })
                    .await;
                    if let Ok(Ok(approval)) = consumed {
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
                Err((
                    RequestDecision::Deny {
                        rule: rule.to_string(),
                    },
                    format!("{pending} needs a person's approval (policy rule \"{rule}\")"),
                ))
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
    asks: &mpsc::Sender<Ask>,
    request: &CheckedRequest,
    rule: &str,
    timeout: Duration,
) -> Option<ElicitationAction> {
    let (reply, answer) = oneshot::channel();
    let params = ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: question(request, rule),
        requested_schema: ElicitationSchema::new(BTreeMap::new()),
    };
    asks.send(Ask { params, reply }).await.ok()?;
    match tokio::time::timeout(timeout, answer).await {
        Ok(Ok(Some(result))) => Some(result.action),
        _ => None,
    }
}

/// What the person is asked: the exact method and path, and a summary of the body.
fn question(request: &CheckedRequest, rule: &str) -> String {
    let body = match request.body() {
        None => "no body".to_string(),
        Some(body) => {
            let text = String::from_utf8_lossy(&body.bytes);
            let summary: String = text.chars().take(500).collect();
            let more = if text.chars().count() > 500 {
                " …"
            } else {
                ""
            };
            format!("{} body: {summary}{more}", body.content_type)
        }
    };
    format!(
        "Approve {} {}? ({body}). Policy rule \"{rule}\" requires your approval; accept to \
         carry it out, decline to refuse it.",
        request.method(),
        request.target()
    )
}
