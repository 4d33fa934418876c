//! The response journal of an `execute` call that may pause: every request its code made, in
//! order, with what the code saw for it, and the clock and seed its `Date` and `Math.random`
//! read. Running the code again from a journal answers the requests it records from it,
//! until the code reaches one the journal cannot answer; a request that differs from the
//! journal's at its place ends the run unsent.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use codemode_audit::{PausedStore, PendingRequest};
use codemode_sandbox::Determinism;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
}

#[derive(Default)]
struct State {
    slots: Vec<Slot>,
    /// The place of the next request the code makes.
    next: usize,
    /// Where the journal was last saved durably, while that record is meant to be resumed.
    saved: Option<(Arc<dyn PausedStore>, String)>,
    /// Whether a request was sent after the last save, which the saved record does not know.
    stale: bool,
    diverged: Option<String>,
}

impl Recording {
    /// An empty journal for a call whose clock and seed are `determinism`.
    pub fn new(determinism: Determinism) -> Recording {
        Recording {
            determinism,
            state: Mutex::new(State::default()),
        }
    }

    /// The journal a paused call recorded, to run its code again.
    pub fn replaying(determinism: Determinism, slots: Vec<Slot>) -> Recording {
        Recording {
            determinism,
            state: Mutex::new(State {
                slots,
                ..State::default()
            }),
        }
    }

    /// The call's clock and seed.
    pub fn determinism(&self) -> Determinism {
        self.determinism
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
        let why = format!(
            "the paused call cannot be resumed here: {why}. Nothing more was sent. Call execute \
             again without requestState to start over"
        );
        state.diverged = Some(why.clone());
        Begun::Diverged(why)
    }

    /// The live request at `place` is being handed to the upstream.
    pub fn sent(&self, place: usize) {
        let mut state = self.state();
        if let Some(slot) = state.slots.get_mut(place) {
            *slot = Slot::Sent(slot.request().clone());
        }
        if let Some((store, call)) = state.saved.take() {
            // The saved record would answer this request as never sent: forget it.
            state.stale = true;
            tokio::task::spawn_blocking(move || store.delete(&call));
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

    /// The journal as it stands, which is about to be saved under `call` in `store`.
    pub fn saving(&self, store: &Arc<dyn PausedStore>, call: &str) -> Vec<Slot> {
        let mut state = self.state();
        state.saved = Some((store.clone(), call.to_string()));
        state.stale = false;
        state.slots.clone()
    }

    /// Whether a request was sent since [`Recording::saving`], so the saved record must go.
    pub fn is_stale(&self) -> bool {
        self.state().stale
    }

    /// The saved record was taken to resume the call: later requests no longer concern it.
    pub fn resumed(&self) {
        self.state().saved = None;
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Slot {
    fn request(&self) -> &PendingRequest {
        match self {
            Slot::Held(request) | Slot::Sent(request) | Slot::Answered { request, .. } => request,
        }
    }
}
