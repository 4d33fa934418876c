//! One worker thread: its engine runs queued jobs, and resumes the `execute` calls parked on
//! it whenever what they wait for arrives or their deadline passes.

use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::engine::{Call, Engine, Execution, Wake};
use crate::error::SandboxError;
use crate::outcome::Outcome;
use crate::queue::{Job, Queue, Signal, Task};

/// Where a call's outcome goes.
type Reply = oneshot::Sender<Result<Outcome, SandboxError>>;

/// What one worker thread is given.
pub(crate) struct Worker<'a> {
    /// This worker's place among the pool's.
    pub index: usize,
    /// The pool's queue.
    pub queue: &'a Queue,
    /// Signals for this worker.
    pub signals: Receiver<Signal>,
    /// Sends to `signals`, for parked calls to wake this worker.
    pub wake: Sender<Signal>,
}

/// An `execute` call waiting on its host, and where its outcome goes.
struct Parked<X> {
    execution: X,
    reply: Reply,
}

/// Starts an engine with `start`, reports to `ready`, then runs jobs and parked calls until
/// the pool closes and nothing is left. An engine that panics or cannot recover is replaced.
pub(crate) fn work<E: Engine>(
    worker: Worker<'_>,
    start: impl Fn() -> Result<E, SandboxError>,
    ready: Sender<Result<(), SandboxError>>,
) {
    let engine = match start() {
        Ok(engine) => engine,
        Err(error) => {
            worker.queue.retire(worker.index);
            // Pool::new has stopped listening only if it already failed.
            let _ = ready.send(Err(error));
            return;
        }
    };
    // As above: Pool::new is either listening or has already failed. Dropping the sender
    // lets Pool::new notice a worker that dies before reporting.
    let _ = ready.send(Ok(()));
    drop(ready);
    let mut running = Running {
        engine,
        parked: HashMap::new(),
        wake: worker.wake.clone(),
    };
    if let Err(error) = running.serve(&worker, &start) {
        tracing::error!(%error, "a sandbox worker could not rebuild its engine and stopped");
    }
    worker.queue.retire(worker.index);
}

/// A worker's engine and the calls parked on it.
struct Running<E: Engine> {
    engine: E,
    parked: HashMap<u64, Parked<E::Execution>>,
    wake: Sender<Signal>,
}

impl<E: Engine> Running<E> {
    /// The worker's loop: resume what was woken, take the next job, or wait for either (or
    /// for the nearest deadline of a parked call).
    fn serve(
        &mut self,
        worker: &Worker<'_>,
        start: &impl Fn() -> Result<E, SandboxError>,
    ) -> Result<(), SandboxError> {
        loop {
            while let Ok(signal) = worker.signals.try_recv() {
                if let Signal::Wake(id) = signal {
                    self.resume(id);
                }
            }
            if let Some(job) = worker.queue.take(worker.index) {
                self.run(job, start)?;
                continue;
            }
            if worker.queue.is_closed() && self.parked.is_empty() {
                return Ok(());
            }
            let nearest = self
                .parked
                .values()
                .map(|call| call.execution.deadline())
                .min();
            let signal = match nearest {
                Some(deadline) => worker
                    .signals
                    .recv_timeout(deadline.saturating_duration_since(Instant::now())),
                None => worker
                    .signals
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected),
            };
            match signal {
                Ok(Signal::Wake(id)) => self.resume(id),
                Ok(Signal::Job) => {}
                Err(RecvTimeoutError::Timeout) => {
                    let now = Instant::now();
                    let due: Vec<u64> = self
                        .parked
                        .iter()
                        .filter(|(_, call)| call.execution.deadline() <= now)
                        .map(|(&id, _)| id)
                        .collect();
                    for id in due {
                        self.resume(id);
                    }
                }
                // The worker holds a sender of its own, so its signals never disconnect.
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
        }
    }

    /// Runs a job: a search to its end, an execute until it first waits.
    fn run(
        &mut self,
        job: Job,
        start: &impl Fn() -> Result<E, SandboxError>,
    ) -> Result<(), SandboxError> {
        let Job {
            id,
            task,
            code,
            limits,
            accepted,
            cancel,
            reply,
        } = job;
        if cancel.is_cancelled() {
            let _ = reply.send(Err(SandboxError::Cancelled));
            return Ok(());
        }
        if Instant::now() >= accepted + limits.timeout {
            let _ = reply.send(Err(SandboxError::Timeout {
                limit: limits.timeout,
            }));
            return Ok(());
        }
        let call = Call {
            code: &code,
            limits: &limits,
            accepted,
            cancel: &cancel,
        };
        match task {
            Task::Search => {
                let outcome = guarded(|| self.engine.search(&call));
                let healthy = outcome.is_some();
                // The caller may have stopped waiting; the outcome is then not wanted.
                let _ = reply.send(outcome.unwrap_or_else(engine_failed));
                if healthy {
                    self.engine.recover()
                } else {
                    start().map(|fresh| self.engine = fresh)
                }
            }
            Task::Execute(host) => {
                let signals = self.wake.clone();
                let wake = Wake::new(move || {
                    // The worker is gone only once it has dropped this call.
                    let _ = signals.send(Signal::Wake(id));
                });
                match guarded(|| self.engine.execute(&call, host, wake)) {
                    Some(Ok(execution)) => {
                        self.parked.insert(id, Parked { execution, reply });
                        self.resume(id);
                    }
                    Some(Err(error)) => {
                        let _ = reply.send(Err(error));
                    }
                    None => {
                        let _ = reply.send(engine_failed());
                    }
                }
                Ok(())
            }
        }
    }

    /// Resumes parked call `id`, if it is still parked, and replies once it is over.
    fn resume(&mut self, id: u64) {
        let Some(call) = self.parked.get_mut(&id) else {
            return;
        };
        let outcome = match guarded(|| call.execution.resume()) {
            Some(None) => return,
            Some(Some(outcome)) => outcome,
            None => engine_failed(),
        };
        if let Some(call) = self.parked.remove(&id) {
            // As in `run`: the caller may have stopped waiting.
            let _ = call.reply.send(outcome);
            // Dropping a runtime that failed may fail again; the call is over either way.
            let _ = panic::catch_unwind(AssertUnwindSafe(|| drop(call.execution)));
        }
    }
}

/// Runs `f`, or None if it panicked.
fn guarded<T>(f: impl FnOnce() -> T) -> Option<T> {
    panic::catch_unwind(AssertUnwindSafe(f)).ok()
}

/// The outcome of a call whose engine panicked.
fn engine_failed<T>() -> Result<T, SandboxError> {
    Err(SandboxError::Unavailable(
        "the engine failed while running this code".into(),
    ))
}
