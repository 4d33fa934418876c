//! `execute` calls paused at a request that needs a person's approval, while the client asks
//! the person and retries the call with the answer (MCP 2026-07-28 `input_required`).
//!
//! A paused call keeps running in this process, parked without a sandbox worker and outside
//! its CPU budget. The client holds only a sealed request state: a MAC over which paused call,
//! which round and which request it names, bound to the caller, the session and the code, and
//! valid until the person's time to answer is up. A state that fails any of those checks, or
//! names a round already answered, is refused before anything changes.
//!
//! Each pause is also recorded durably in a [`PausedStore`]: the code, what the state is bound
//! to, the call's seed and its response journal with its clock readings ([`Recording`]). A retry that finds
//! the call gone from this process (it restarted, or this is another replica) takes the record
//! and runs the code again on the journal up to the paused request, which then goes out. The
//! record is taken by the first retry, so the request goes out once at most: a call still
//! paused in its process claims (takes) its record too before it goes on, and stops, sending
//! nothing, when another process took it first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use codemode_audit::{PausedStore, PendingRequest, Timestamp};
use codemode_sandbox::{CancelToken, Determinism};
use codemode_upstream::sha256_hex;
use rmcp::model::{RequestStateCodec, RequestStateError, SealOptions};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::call::approval::{Answer, Question};
use crate::call::caller::Caller;
use crate::call::clock::ClockRecord;
use crate::call::error::CallError;
use crate::call::host::Update;
use crate::call::outcome::CallOutcome;
use crate::call::recording::{ClaimError, Recording, Slot};
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
    /// The round was already answered, or its call has ended and left no record.
    #[error(
        "this requestState was already answered, or its call is no longer paused (it ended, \
         or its record is gone); each requestState can be used once. Call execute again \
         without requestState to start over"
    )]
    Used,
    /// The retry did not carry the answer the round asked for.
    #[error(
        "the retry carries no answer to the input request `{0}`; answer it with an \
         elicitation result (`action` accept, decline or cancel)"
    )]
    NoAnswer(&'static str),
    /// The call was resumed from its record, and running its code again left the record.
    #[error("{0}")]
    Diverged(String),
    /// The call is paused in this process, and could not claim its record to go on.
    #[error(transparent)]
    Claimed(ClaimError),
    /// The record of the paused call could not be read.
    #[error(
        "the record of this paused call could not be read ({0}); try the retry again, or call \
         execute again without requestState to start over"
    )]
    Store(String),
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

/// What a paused call's durable record says.
#[derive(Serialize, Deserialize)]
struct Record {
    /// What the call's request states are bound to (see [`Binding`]).
    binding: String,
    /// The agent's code.
    code: String,
    /// The account the call named.
    account_id: Option<String>,
    /// The round the call is paused at.
    round: u32,
    /// The request it is paused at.
    pending: PendingRequest,
    /// Its seed.
    determinism: Determinism,
    /// Every request it made so far, with what its code saw.
    journal: Vec<Slot>,
    /// Every time its code read the clock so far.
    clock: ClockRecord,
}

/// Builds a call from where its questions and updates go and the token that stops it.
pub trait BuildCall:
    FnOnce(mpsc::Sender<Question>, mpsc::UnboundedSender<Update>, CancelToken) -> ExecuteRequest
{
}

impl<F> BuildCall for F where
    F: FnOnce(mpsc::Sender<Question>, mpsc::UnboundedSender<Update>, CancelToken) -> ExecuteRequest
{
}

/// An `execute` call running in the background: its outcome, what it sends out meanwhile,
/// and what its record needs.
pub struct Run {
    outcome: JoinHandle<CallOutcome>,
    questions: mpsc::Receiver<Question>,
    updates: mpsc::UnboundedReceiver<Update>,
    cancel: CancelToken,
    recording: Arc<Recording>,
    code: String,
    account_id: Option<String>,
}

impl Run {
    /// Starts on `runner`, in the background, the call `request` builds, with a fresh seed,
    /// response journal and live clock.
    pub fn spawn(runner: &Arc<Runner>, request: impl BuildCall) -> Run {
        let recording = Arc::new(Recording::new(Determinism::fresh()));
        Run::with_recording(runner, recording, request)
    }

    fn with_recording(
        runner: &Arc<Runner>,
        recording: Arc<Recording>,
        request: impl BuildCall,
    ) -> Run {
        let (asks, questions) = mpsc::channel(1);
        let (updates, updates_received) = mpsc::unbounded_channel();
        let cancel = CancelToken::new();
        let mut request = request(asks, updates, cancel.clone());
        request.recording = Some(recording.clone());
        let (code, account_id) = (request.code.clone(), request.account_id.clone());
        let runner = runner.clone();
        Run {
            outcome: tokio::spawn(async move { runner.execute(request).await }.in_current_span()),
            questions,
            updates: updates_received,
            cancel,
            recording,
            code,
            account_id,
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

/// How long a paused call's record outlives its request state: a retry can no longer use it
/// (the state has expired), but the process that paused the call can still claim it when it
/// goes on after the person's time is up, and so tell that apart from a retry elsewhere
/// having taken it.
const CLAIM_GRACE: Duration = Duration::from_secs(300);

/// The key of the one input request each round asks.
pub const APPROVAL_INPUT: &str = "approval";

/// A call waiting for the answer to round `round`.
struct Paused {
    run: Run,
    round: u32,
    request: PendingRequest,
    reply: oneshot::Sender<Option<Answer>>,
}

/// Every call paused in this process, the key their request states are sealed with, and
/// where their records are kept.
pub struct PausedCalls {
    codec: RequestStateCodec,
    store: Arc<dyn PausedStore>,
    answer_within: Duration,
    /// Tells this process's call ids apart from other processes'.
    process: String,
    next: AtomicU64,
    waiting: Mutex<HashMap<String, Paused>>,
}

impl PausedCalls {
    /// Seals states with `key` (at least [`STATE_KEY_MIN_BYTES`] bytes); each is valid for
    /// `answer_within`, the time a person has to answer; records each pause in `store`.
    pub fn new(
        key: &[u8],
        answer_within: Duration,
        store: Arc<dyn PausedStore>,
    ) -> Result<PausedCalls, StateKeyError> {
        Ok(PausedCalls {
            codec: RequestStateCodec::try_new(key.to_vec()).map_err(StateKeyError::Key)?,
            store,
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
        self.drive(call, 1, run, binding, live, cancel, None).await
    }

    /// Gives the person's answer to the round `state` names, then runs the call on until it
    /// ends or asks again. `answer` is the retry's elicitation result for [`APPROVAL_INPUT`].
    /// When the call is not paused in this process, `request` (the retry's call) runs its
    /// recorded code again on `runner`, from the call's record.
    #[allow(clippy::too_many_arguments)]
    pub async fn resume(
        &self,
        runner: &Arc<Runner>,
        state: &str,
        answer: Option<&serde_json::Value>,
        binding: &Binding,
        request: impl BuildCall,
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
                Some(_) => return Err(ResumeError::Used),
                None => {}
            }
            waiting.remove(&claims.call)
        };
        let next = claims.round + 1;
        if let Some(paused) = paused {
            match paused.run.recording.claim().await {
                Ok(()) => {}
                Err(ClaimError::Lost) => {
                    paused.run.cancel.cancel();
                    return Err(ResumeError::Claimed(ClaimError::Lost));
                }
                Err(error) => {
                    self.waiting().insert(claims.call, paused);
                    return Err(ResumeError::Claimed(error));
                }
            }
            if paused.reply.send(Some(answer)).is_err() {
                return Err(ResumeError::Expired);
            }
            return Ok(self
                .drive(claims.call, next, paused.run, binding, live, cancel, None)
                .await);
        }
        let record = self.take(&claims.call).await?.ok_or(ResumeError::Used)?;
        if record.binding.as_bytes() != binding.associated.as_slice()
            || record.round != claims.round
            || record.pending != claims.request
        {
            return Err(ResumeError::Invalid);
        }
        let recording = Arc::new(Recording::replaying(
            record.determinism,
            record.journal,
            record.clock,
        ));
        let (code, account_id) = (record.code, record.account_id);
        let run = Run::with_recording(runner, recording, |asks, updates, stop| {
            let mut call = request(asks, updates, stop);
            call.code = code;
            call.account_id = account_id;
            call.approval_id = None;
            call
        });
        let answered = Some((record.pending, answer));
        Ok(self
            .drive(claims.call, next, run, binding, live, cancel, answered)
            .await)
    }

    /// Takes the record of `call` from the store: `None` when there is none (it was taken
    /// already, or expired).
    async fn take(&self, call: &str) -> Result<Option<Record>, ResumeError> {
        let (store, key) = (self.store.clone(), call.to_string());
        let taken = tokio::task::spawn_blocking(move || store.take(&key, Timestamp::now()))
            .await
            .map_err(|_| ResumeError::Store("the store stopped".into()))?
            .map_err(|error| ResumeError::Store(error.to_string()))?;
        taken
            .map(|bytes| {
                serde_json::from_slice(&bytes).map_err(|error| {
                    ResumeError::Store(format!("the record is unreadable: {error}"))
                })
            })
            .transpose()
    }

    /// Records that the call `call` is paused at `round` on `pending`, so a retry elsewhere
    /// can resume it. Without a record the call can still be resumed in this process.
    async fn record(
        &self,
        call: &str,
        round: u32,
        pending: &PendingRequest,
        run: &Run,
        binding: &Binding,
    ) {
        let snapshot = run.recording.snapshot();
        let record = Record {
            binding: String::from_utf8_lossy(&binding.associated).into_owned(),
            code: run.code.clone(),
            account_id: run.account_id.clone(),
            round,
            pending: pending.clone(),
            determinism: run.recording.determinism(),
            journal: snapshot.slots.clone(),
            clock: snapshot.clock.clone(),
        };
        let bytes = match serde_json::to_vec(&record) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!(%error, "a paused call could not be recorded; only this process can resume it");
                return;
            }
        };
        let (store, key) = (self.store.clone(), call.to_string());
        let expires_at = Timestamp::now().saturating_add(self.answer_within + CLAIM_GRACE);
        let saved = tokio::task::spawn_blocking(move || store.save(&key, &bytes, expires_at)).await;
        if !matches!(saved, Ok(Ok(()))) {
            tracing::warn!("a paused call could not be recorded; only this process can resume it");
            return;
        }
        if !run.recording.saved(&snapshot, &self.store, call) {
            // A request went out meanwhile, which the record would answer as never sent.
            let (store, key) = (self.store.clone(), call.to_string());
            let _ = tokio::task::spawn_blocking(move || store.delete(&key)).await;
        }
    }

    /// Runs the call until it ends or asks question `round`, which pauses it. A call run
    /// again from its record first asks the question it was paused at: `answered` answers it.
    #[allow(clippy::too_many_arguments)]
    async fn drive(
        &self,
        call: String,
        round: u32,
        mut run: Run,
        binding: &Binding,
        live: &mpsc::UnboundedSender<Update>,
        cancel: &CancelToken,
        mut answered: Option<(PendingRequest, Answer)>,
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
                    if let Some((pending, answer)) = answered.take() {
                        if question.request == pending {
                            let _ = question.reply.send(Some(answer));
                            continue;
                        }
                        run.cancel.cancel();
                        let why = format!(
                            "the paused call cannot be resumed here: running its code again \
                             asked about {} before {pending}, the request it was paused at. \
                             Nothing more was sent. Call execute again without requestState \
                             to start over",
                            question.request
                        );
                        return Round::Finished(CallOutcome::failed(
                            ResumeError::Diverged(why),
                            Vec::new(),
                        ));
                    }
                    self.record(&call, round, &question.request, &run, binding).await;
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
