//! The response journal of an `execute` call that may pause: every request its code made, in
//! order, with what the code saw for it, every time its `Date` read ([`Clock`]), and the seed
//! its `Math.random` draws from. Running the code again from a journal answers the requests
//! and clock readings it records from it, until the code reaches one the journal cannot
//! answer; a request that differs from the journal's at its place, or a clock reading the
//! journal should answer and cannot, ends the run unsent.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use codemode_audit::{PausedStore, PendingRequest, Timestamp};
use codemode_sandbox::Determinism;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::call::clock::{Clock, ClockRecord};

/// One request of the journal, by its place in the order the code made them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Slot {
    /// Waiting for a decision (a person's approval, say); not sent.
    Held(PendingRequest),
    /// Handed to the upstream, not answered yet: whether it went out is unknown.
    Sent(PendingRequest),
    /// Answered: what the code saw, the API envelope or the error message.
    Answered {
        /// The request.
        request: PendingRequest,
        /// What the code saw.
        seen: Result<Value, String>,
    },
}

/// What to do with a request the code makes.
pub enum Begun {
    /// Give the code what the journal recorded; send nothing.
    Replayed(Result<Value, String>),
    /// Decide and send it live; report back under this place.
    Live(usize),
    /// The run left the journal: refuse the request unsent and end the run with this reason.
    Diverged(String),
}

/// The journal of one `execute` call.
pub struct Recording {
    determinism: Determinism,
    state: Mutex<State>,
    /// Held while the saved record is being claimed, so claims wait for each other.
    claiming: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    slots: Vec<Slot>,
    /// The place of the next request the code makes.
    next: usize,
    /// Where the journal was last saved durably, while that record is meant to be resumed.
    saved: Option<(Arc<dyn PausedStore>, String)>,
    /// How many times the call went on past a save (sent a request, or resumed).
    claims: u64,
    /// Whether another process took the call's record and resumed it: this one may not go on.
    lost: bool,
    diverged: Option<String>,
    clock: Clock,
}

/// A snapshot of the journal, about to be saved.
pub struct Snapshot {
    /// The journal's slots.
    pub slots: Vec<Slot>,
    /// The clock's readings.
    pub clock: ClockRecord,
    claims: u64,
}

/// Why a call may not go on past its saved record.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Another process took the record and resumed the call: this one must send nothing.
    #[error(
        "this paused call was resumed elsewhere (another replica, or another retry of the same          requestState took its record first), so this run sends nothing more; the other one          carries on"
    )]
    Lost,
    /// The store could not say whether the record is still there.
    #[error("the record of this paused call could not be claimed ({0}); nothing was sent")]
    Store(String),
}

impl Recording {
    /// An empty journal for a call whose seed is `determinism`, with a live clock.
    pub fn new(determinism: Determinism) -> Recording {
        Recording {
            determinism,
            state: Mutex::new(State::default()),
            claiming: tokio::sync::Mutex::new(()),
        }
    }

    /// The journal a paused call recorded, to run its code again.
    pub fn replaying(determinism: Determinism, slots: Vec<Slot>, clock: ClockRecord) -> Recording {
        Recording {
            determinism,
            state: Mutex::new(State {
                slots,
                clock: Clock::replaying(clock),
                ..State::default()
            }),
            claiming: tokio::sync::Mutex::new(()),
        }
    }

    /// The call's seed.
    pub fn determinism(&self) -> Determinism {
        self.determinism
    }

    /// The code made a request: counted as it makes it, so clock readings are placed among
    /// its requests in the code's own order.
    pub fn made_request(&self) {
        self.state().clock.made_request();
    }

    /// The time the code's `Date` reads, from the journal while it answers them; `None` once
    /// the run left the journal, which then must end.
    pub fn clock_ms(&self) -> Option<i64> {
        let mut state = self.state();
        if state.diverged.is_some() {
            return None;
        }
        match state.clock.read() {
            Ok(time) => Some(time),
            Err(why) => {
                state.diverged = Some(cannot_resume(&why));
                None
            }
        }
    }

    /// The code makes `request`, its next: answer it from the journal, or send it live.
    pub fn begin(&self, request: &PendingRequest) -> Begun {
        let mut state = self.state();
        if let Some(why) = &state.diverged {
            return Begun::Diverged(why.clone());
        }
        let place = state.next;
        state.next += 1;
        let recorded = match state.slots.get(place) {
            None => {
                state.slots.push(Slot::Held(request.clone()));
                return Begun::Live(place);
            }
            Some(recorded) => recorded.clone(),
        };
        let why = match recorded {
            Slot::Answered { request: was, seen } if was == *request => {
                return Begun::Replayed(seen);
            }
            Slot::Held(was) if was == *request => return Begun::Live(place),
            Slot::Sent(was) if was == *request => format!(
                "{request} was on its way to the API when the paused call was recorded, so \
                 whether it went out is unknown"
            ),
            Slot::Held(was) | Slot::Sent(was) | Slot::Answered { request: was, .. } => format!(
                "request {} of the run that paused was {was}, but running the code again made \
                 {request}",
                place + 1
            ),
        };
        let why = cannot_resume(&why);
        state.diverged = Some(why.clone());
        Begun::Diverged(why)
    }

    /// The live request at `place` is about to be handed to the upstream: it claims the saved
    /// record first (see [`Recording::claim`]); on error it must not be sent.
    pub async fn sent(&self, place: usize) -> Result<(), ClaimError> {
        self.claim().await?;
        let mut state = self.state();
        if let Some(slot) = state.slots.get_mut(place) {
            *slot = Slot::Sent(slot.request().clone());
        }
        Ok(())
    }

    /// Goes on past the saved record, if one is meant to be resumable: takes it from its
    /// store, so no other process can resume the call from it. When it is already gone,
    /// another process took it and resumed the call, and this one must not go on.
    pub async fn claim(&self) -> Result<(), ClaimError> {
        let _one_at_a_time = self.claiming.lock().await;
        let saved = {
            let mut state = self.state();
            if state.lost {
                return Err(ClaimError::Lost);
            }
            state.claims += 1;
            state.saved.take()
        };
        let Some((store, call)) = saved else {
            return Ok(());
        };
        let (kept, key) = (store.clone(), call.clone());
        let taken = tokio::task::spawn_blocking(move || kept.take(&key, Timestamp::now())).await;
        match taken {
            Ok(Ok(Some(_))) => Ok(()),
            Ok(Ok(None)) => {
                self.state().lost = true;
                Err(ClaimError::Lost)
            }
            Ok(Err(error)) => {
                self.state().saved = Some((store, call));
                Err(ClaimError::Store(error.to_string()))
            }
            Err(_) => {
                self.state().saved = Some((store, call));
                Err(ClaimError::Store("the store stopped".into()))
            }
        }
    }

    /// The live request at `place` got `seen`, which the code sees.
    pub fn answered(&self, place: usize, seen: Result<Value, String>) {
        let mut state = self.state();
        if let Some(slot) = state.slots.get_mut(place) {
            *slot = Slot::Answered {
                request: slot.request().clone(),
                seen,
            };
        }
    }

    /// Why the run left the journal, once it has.
    pub fn diverged(&self) -> Option<String> {
        self.state().diverged.clone()
    }

    /// The journal as it stands, to be saved.
    pub fn snapshot(&self) -> Snapshot {
        let state = self.state();
        Snapshot {
            slots: state.slots.clone(),
            clock: state.clock.record(),
            claims: state.claims,
        }
    }

    /// `snapshot` was saved under `call` in `store`: from now on, going on claims that record.
    /// False when the call went on since the snapshot, so the saved record is already out of
    /// date and must be deleted.
    pub fn saved(&self, snapshot: &Snapshot, store: &Arc<dyn PausedStore>, call: &str) -> bool {
        let mut state = self.state();
        if state.claims != snapshot.claims {
            return false;
        }
        state.saved = Some((store.clone(), call.to_string()));
        true
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The error of a run that left its journal for `why`.
fn cannot_resume(why: &str) -> String {
    format!(
        "the paused call cannot be resumed here: {why}. Nothing more was sent. Call execute \
         again without requestState to start over"
    )
}

impl Slot {
    fn request(&self) -> &PendingRequest {
        match self {
            Slot::Held(request) | Slot::Sent(request) | Slot::Answered { request, .. } => request,
        }
    }
}
