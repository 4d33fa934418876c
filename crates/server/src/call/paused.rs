//! `execute` calls paused at a request that needs a person's approval, while the client asks
//! the person and retries the call with the answer (MCP 2026-07-28 `input_required`).
//!
//! A paused call keeps running in this process, parked without a sandbox worker and outside
//! its CPU budget. The client holds only a sealed request state: a MAC over which paused call,
//! which round and which request it names, bound to the caller, the session and the code, and
//! valid until the person's time to answer is up. A state that fails any of those checks, or
//! names a round already answered, is refused before anything changes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use codemode_audit::PendingRequest;
use codemode_sandbox::CancelToken;
use codemode_upstream::sha256_hex;
use rmcp::model::{RequestStateCodec, RequestStateError, SealOptions};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::call::approval::{Answer, Question};
use crate::call::caller::Caller;
use crate::call::error::CallError;
use crate::call::host::Update;
use crate::call::outcome::CallOutcome;
use crate::call::{ExecuteRequest, Runner};

/// Bytes of a request-state key, at least.
pub const STATE_KEY_MIN_BYTES: usize = RequestStateCodec::MIN_KEY_LENGTH;

/// Why a retry's request state was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    /// The state was not issued by this server for this caller, session and code.
    #[error(
        "the requestState is not valid for this call: it was altered, forged, or issued for \
         another caller, session or code. Call execute again without requestState to start over"
    )]
    Invalid,
    /// The person's time to answer is up; the paused request was refused.
    #[error(
        "the approval this requestState asked for has expired, so its request was refused and \
         not sent. Call execute again without requestState to start over"
    )]
    Expired,
    /// The round was already answered, or its call has ended or paused in another process.
    #[error(
        "this requestState was already answered, or its call is no longer paused here (it \
         ended, or the server that paused it restarted or is another replica); each \
         requestState can be used once. Call execute again without requestState to start over"
    )]
    Used,
    /// The retry did not carry the answer the round asked for.
    #[error(
        "the retry carries no answer to the input request `{0}`; answer it with an \
         elicitation result (`action` accept, decline or cancel)"
    )]
    NoAnswer(&'static str),
}

/// Why paused calls cannot be kept: the request-state key is unusable.
#[derive(Debug, thiserror::Error)]
pub enum StateKeyError {
    /// The key is too short.
    #[error("the request-state key must be at least {STATE_KEY_MIN_BYTES} bytes: {0}")]
    Key(RequestStateError),
    /// The system random source failed.
    #[error("cannot make a request-state key: the system random source failed: {0}")]
    Random(getrandom::Error),
}

/// What a request state is bound to: the caller's subject and session, and the code.
pub struct Binding {
    associated: Vec<u8>,
}

impl Binding {
    /// Binds to `caller`'s subject and session and to `code`.
    pub fn new(caller: &Caller, code: &str) -> Binding {
        let associated = json!([
            "codemode/execute-round/v1",
            caller.subject(),
            caller.session,
            sha256_hex(code.as_bytes()),
        ]);
        Binding {
            associated: associated.to_string().into_bytes(),
        }
    }
}

/// What a sealed request state says.
#[derive(Serialize, Deserialize)]
struct Claims {
    /// The paused call.
    call: String,
    /// Which of its questions this is, from 1.
    round: u32,
    /// The request the question is about.
    request: PendingRequest,
}

/// An `execute` call running in the background: its outcome, and what it sends out meanwhile.
pub struct Run {
    outcome: JoinHandle<CallOutcome>,
    questions: mpsc::Receiver<Question>,
    updates: mpsc::UnboundedReceiver<Update>,
    cancel: CancelToken,
}

impl Run {
    /// Starts on `runner`, in the background, the call `request` builds from where its
    /// questions and updates go and the token that stops it.
    pub fn spawn(
        runner: &Arc<Runner>,
        request: impl FnOnce(
            mpsc::Sender<Question>,
            mpsc::UnboundedSender<Update>,
            CancelToken,
        ) -> ExecuteRequest,
    ) -> Run {
        let (asks, questions) = mpsc::channel(1);
        let (updates, updates_received) = mpsc::unbounded_channel();
        let cancel = CancelToken::new();
        let request = request(asks, updates, cancel.clone());
        let runner = runner.clone();
        Run {
            outcome: tokio::spawn(async move { runner.execute(request).await }.in_current_span()),
            questions,
            updates: updates_received,
            cancel,
        }
    }
}

/// Where a call stands after a round.
pub enum Round {
    /// The call ended.
    Finished(CallOutcome),
    /// The call waits for the person's answer to `message`; the client echoes `state` back.
    Asking {
        /// What the person is asked.
        message: String,
        /// The sealed request state.
        state: String,
    },
}

/// The key of the one input request each round asks.
pub const APPROVAL_INPUT: &str = "approval";

/// A call waiting for the answer to round `round`.
struct Paused {
    run: Run,
    round: u32,
    request: PendingRequest,
    reply: oneshot::Sender<Option<Answer>>,
}

/// Every call paused in this process, and the key their request states are sealed with.
pub struct PausedCalls {
    codec: RequestStateCodec,
    answer_within: Duration,
    /// Tells this process's call ids apart from other processes'.
    process: String,
    next: AtomicU64,
    waiting: Mutex<HashMap<String, Paused>>,
}

impl PausedCalls {
    /// Seals states with `key` (at least [`STATE_KEY_MIN_BYTES`] bytes); each is valid for
    /// `answer_within`, the time a person has to answer.
    pub fn new(key: &[u8], answer_within: Duration) -> Result<PausedCalls, StateKeyError> {
        Ok(PausedCalls {
            codec: RequestStateCodec::try_new(key.to_vec()).map_err(StateKeyError::Key)?,
            answer_within,
            process: random_hex(8)?,
            next: AtomicU64::new(0),
            waiting: Mutex::new(HashMap::new()),
        })
    }

    /// Runs `run` until it ends or asks its first question, forwarding its updates to `live`;
    /// `cancel` (the tool call's) stops it while this round lasts.
    pub async fn start(
        &self,
        run: Run,
        binding: &Binding,
        live: &mpsc::UnboundedSender<Update>,
        cancel: &CancelToken,
    ) -> Round {
        let call = format!(
            "{}-{}",
            self.process,
            self.next.fetch_add(1, Ordering::Relaxed)
        );
        self.drive(call, 1, run, binding, live, cancel).await
    }

    /// Gives the person's answer to the round `state` names, then runs the call on until it
    /// ends or asks again. `answer` is the retry's elicitation result for [`APPROVAL_INPUT`].
    pub async fn resume(
        &self,
        state: &str,
        answer: Option<&serde_json::Value>,
        binding: &Binding,
        live: &mpsc::UnboundedSender<Update>,
        cancel: &CancelToken,
    ) -> Result<Round, ResumeError> {
        let opened =
            self.codec
                .open_with(state, &binding.associated)
                .map_err(|error| match error {
                    RequestStateError::Expired => ResumeError::Expired,
                    _ => ResumeError::Invalid,
                })?;
        let claims: Claims = serde_json::from_slice(&opened).map_err(|_| ResumeError::Invalid)?;
        let answer = answer
            .and_then(|answer| answer.get("action"))
            .and_then(|action| action.as_str())
            .map(|action| match action {
                "accept" => Answer::Accept,
                "decline" => Answer::Decline,
                _ => Answer::Cancel,
            })
            .ok_or(ResumeError::NoAnswer(APPROVAL_INPUT))?;
        let paused = {
            let mut waiting = self.waiting();
            match waiting.get(&claims.call) {
                Some(paused)
                    if paused.round == claims.round && paused.request == claims.request => {}
                _ => return Err(ResumeError::Used),
            }
            waiting.remove(&claims.call).ok_or(ResumeError::Used)?
        };
        if paused.reply.send(Some(answer)).is_err() {
            return Err(ResumeError::Expired);
        }
        Ok(self
            .drive(
                claims.call,
                claims.round + 1,
                paused.run,
                binding,
                live,
                cancel,
            )
            .await)
    }

    /// Runs the call until it ends or asks question `round`, which pauses it.
    async fn drive(
        &self,
        call: String,
        round: u32,
        mut run: Run,
        binding: &Binding,
        live: &mpsc::UnboundedSender<Update>,
        cancel: &CancelToken,
    ) -> Round {
        let stop = run.cancel.clone();
        let _stops_this_round = cancel.on_cancel(move || stop.cancel());
        loop {
            tokio::select! {
                biased;
                Some(update) = run.updates.recv() => {
                    let _ = live.send(update);
                }
                Some(question) = run.questions.recv() => {
                    let claims = Claims { call, round, request: question.request };
                    let options = SealOptions::new()
                        .associated_data(&binding.associated)
                        .ttl(self.answer_within);
                    let state = self.codec.seal_with(json!(claims).to_string().as_bytes(), &options);
                    let mut waiting = self.waiting();
                    // A call whose question timed out went on without its answer.
                    waiting.retain(|_, paused| !paused.reply.is_closed());
                    waiting.insert(claims.call, Paused {
                        run,
                        round,
                        request: claims.request,
                        reply: question.reply,
                    });
                    return Round::Asking { message: question.message, state };
                }
                ended = &mut run.outcome => {
                    while let Ok(update) = run.updates.try_recv() {
                        let _ = live.send(update);
                    }
                    return Round::Finished(ended.unwrap_or_else(|_| {
                        CallOutcome::failed(CallError::StoreStopped("paused call"), Vec::new())
                    }));
                }
            }
        }
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<String, Paused>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A fresh random key for request states, for a server configured without one.
pub fn random_key() -> Result<Vec<u8>, StateKeyError> {
    let mut key = vec![0u8; 32];
    getrandom::fill(&mut key).map_err(StateKeyError::Random)?;
    Ok(key)
}

fn random_hex(bytes: usize) -> Result<String, StateKeyError> {
    let mut random = vec![0u8; bytes];
    getrandom::fill(&mut random).map_err(StateKeyError::Random)?;
    Ok(random.iter().map(|byte| format!("{byte:02x}")).collect())
}
