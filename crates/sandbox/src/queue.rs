//! The pool's bounded queue of calls waiting for a worker, and the workers waiting for calls.

use std::collections::VecDeque;
use std::sync::mpsc::Sender;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::cancel::CancelToken;
use crate::error::SandboxError;
use crate::host::Host;
use crate::limits::Limits;
use crate::outcome::Outcome;

/// One call waiting for, or running on, a worker.
pub(crate) struct Job {
    /// Tells this job apart from the others in the queue.
    pub id: u64,
    /// What to run.
    pub task: Task,
    /// The agent's code.
    pub code: String,
    /// The limits it runs under.
    pub limits: Limits,
    /// When the pool accepted it; its time counts from here.
    pub accepted: Instant,
    /// Stops it.
    pub cancel: CancelToken,
    /// Where its outcome goes.
    pub reply: oneshot::Sender<Result<Outcome, SandboxError>>,
}

/// Which tool a job runs.
pub(crate) enum Task {
    /// `search` code, against the spec.
    Search,
    /// `execute` code, through its host.
    Execute(std::sync::Arc<dyn Host>),
}

/// What a worker is told while it waits.
pub(crate) enum Signal {
    /// A job may be queued, or the pool has closed.
    Job,
    /// The parked call with this id has something to run.
    Wake(u64),
}

/// Jobs waiting for a worker, at most `capacity` of them.
pub(crate) struct Queue {
    state: Mutex<State>,
    capacity: usize,
    workers: Vec<Sender<Signal>>,
}

struct State {
    jobs: VecDeque<Job>,
    idle: Vec<usize>,
    working: usize,
    next_id: u64,
    closed: bool,
}

impl Queue {
    /// A queue holding up to `capacity` jobs for the workers signalled through `workers`.
    pub(crate) fn new(capacity: usize, workers: Vec<Sender<Signal>>) -> Queue {
        Queue {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                idle: Vec::new(),
                working: workers.len(),
                next_id: 0,
                closed: false,
            }),
            capacity,
            workers,
        }
    }

    /// Queues the job `make` builds from its id, and wakes a waiting worker; refuses it at
    /// once when the queue is full.
    pub(crate) fn push(&self, make: impl FnOnce(u64) -> Job) -> Result<u64, SandboxError> {
        let mut state = self.state();
        if state.closed {
            return Err(SandboxError::Unavailable("every worker has stopped".into()));
        }
        if state.jobs.len() >= self.capacity {
            return Err(SandboxError::Busy {
                queued: self.capacity,
            });
        }
        let id = state.next_id;
        state.next_id += 1;
        state.jobs.push_back(make(id));
        if let Some(worker) = state.idle.pop() {
            self.signal(worker, Signal::Job);
        }
        Ok(id)
    }

    /// The next job for `worker`; if there is none, `worker` is signalled when one comes.
    pub(crate) fn take(&self, worker: usize) -> Option<Job> {
        let mut state = self.state();
        match state.jobs.pop_front() {
            Some(job) => {
                state.idle.retain(|&idle| idle != worker);
                Some(job)
            }
            None => {
                if !state.idle.contains(&worker) {
                    state.idle.push(worker);
                }
                None
            }
        }
    }

    /// Drops job `id` if it is still waiting (its call was cancelled or is out of time);
    /// false if a worker has taken it.
    pub(crate) fn remove(&self, id: u64) -> bool {
        let mut state = self.state();
        let before = state.jobs.len();
        state.jobs.retain(|job| job.id != id);
        state.jobs.len() < before
    }

    /// Stops accepting jobs and tells every worker, so each stops once its calls are done.
    pub(crate) fn close(&self) {
        self.state().closed = true;
        for worker in 0..self.workers.len() {
            self.signal(worker, Signal::Job);
        }
    }

    /// Takes `worker` out of service; once none is left, queued jobs fail and new ones are
    /// refused.
    pub(crate) fn retire(&self, worker: usize) {
        let mut state = self.state();
        state.idle.retain(|&idle| idle != worker);
        state.working = state.working.saturating_sub(1);
        if state.working == 0 {
            state.closed = true;
            // Dropping a job tells its caller the worker stopped.
            state.jobs.clear();
        }
    }

    /// Workers in service, those of them running a job, and the jobs waiting.
    pub(crate) fn load(&self) -> (usize, usize, usize) {
        let state = self.state();
        let busy = state.working.saturating_sub(state.idle.len());
        (state.working, busy, state.jobs.len())
    }

    /// Whether `close` was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.state().closed
    }

    fn signal(&self, worker: usize, signal: Signal) {
        // A worker that stopped after failing has nothing left to wake.
        let _ = self.workers[worker].send(signal);
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
