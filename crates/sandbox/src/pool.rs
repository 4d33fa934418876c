//! The worker pool: dedicated threads, each with its own engine, fed from one queue.

use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use codemode_spec::Node;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::cancel::CancelToken;
use crate::engine::{Call, Engine};
use crate::error::SandboxError;
use crate::host::Host;
use crate::limits::{Limits, PoolConfig};
use crate::outcome::Outcome;
use crate::quickjs::QuickJs;

/// Native stack of a worker thread: generous, since QuickJS recursion is bounded separately
/// by `Limits::stack_bytes`.
const WORKER_STACK_BYTES: usize = 16 << 20;

/// Runs agent code on dedicated worker threads. Cheap to clone; calls beyond the number of
/// workers queue. Dropping the last clone stops the workers once their calls finish.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    jobs: Sender<Job>,
    config: PoolConfig,
}

/// One call waiting for, or running on, a worker.
struct Job {
    task: Task,
    code: String,
    limits: Limits,
    cancel: CancelToken,
    reply: oneshot::Sender<Result<Outcome, SandboxError>>,
}

enum Task {
    Search,
    Execute(Arc<dyn Host>),
}

impl Pool {
    /// Starts `config.workers` threads (at least one), each building the JavaScript form of
    /// `view` once; returns when all are ready. Host futures run on `runtime`.
    pub fn new(view: Arc<Node>, config: PoolConfig, runtime: Handle) -> Result<Pool, SandboxError> {
        let (jobs, queue) = mpsc::channel();
        let queue = Arc::new(Mutex::new(queue));
        let (ready, started) = mpsc::channel();
        let workers = config.workers.max(1);
        for index in 0..workers {
            let (queue, ready) = (queue.clone(), ready.clone());
            let (view, handle) = (view.clone(), runtime.clone());
            thread::Builder::new()
                .name(format!("sandbox-{index}"))
                .stack_size(WORKER_STACK_BYTES)
                .spawn(move || work(|| QuickJs::new(view.clone(), handle.clone()), &queue, ready))
                .map_err(|error| {
                    SandboxError::Unavailable(format!("could not start a worker thread: {error}"))
                })?;
        }
        drop(ready);
        for _ in 0..workers {
            started.recv().map_err(|_| {
                SandboxError::Unavailable("a worker stopped while starting".into())
            })??;
        }
        Ok(Pool {
            inner: Arc::new(Inner { jobs, config }),
        })
    }

    /// Runs `search` code against the spec; `cancel` stops it early.
    pub async fn search(&self, code: &str, cancel: CancelToken) -> Result<Outcome, SandboxError> {
        self.run(Task::Search, code, &self.inner.config.search, cancel)
            .await
    }

    /// Runs `execute` code whose requests, account id and console go through `host`;
    /// `cancel` stops it early.
    pub async fn execute(
        &self,
        code: &str,
        host: Arc<dyn Host>,
        cancel: CancelToken,
    ) -> Result<Outcome, SandboxError> {
        self.run(
            Task::Execute(host),
            code,
            &self.inner.config.execute,
            cancel,
        )
        .await
    }

    async fn run(
        &self,
        task: Task,
        code: &str,
        limits: &Limits,
        cancel: CancelToken,
    ) -> Result<Outcome, SandboxError> {
        if code.len() > limits.code_bytes {
            return Err(SandboxError::CodeTooLarge {
                bytes: code.len(),
                limit: limits.code_bytes,
            });
        }
        let cancel = cancel.child();
        let _cancel_if_abandoned = CancelOnDrop(cancel.clone());
        let (reply, answer) = oneshot::channel();
        let job = Job {
            task,
            code: code.to_owned(),
            limits: limits.clone(),
            cancel,
            reply,
        };
        self.inner
            .jobs
            .send(job)
            .map_err(|_| SandboxError::Unavailable("every worker has stopped".into()))?;
        answer
            .await
            .map_err(|_| SandboxError::Unavailable("the worker running this call stopped".into()))?
    }
}

/// Cancels a call whose caller stopped waiting for it.
struct CancelOnDrop(CancelToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// A worker thread: starts an engine, then runs queued jobs one at a time until the pool is
/// dropped. An engine that panics or cannot recover is replaced.
fn work<E: Engine>(
    start: impl Fn() -> Result<E, SandboxError>,
    queue: &Mutex<Receiver<Job>>,
    ready: Sender<Result<(), SandboxError>>,
) {
    let mut engine = match start() {
        Ok(engine) => engine,
        Err(error) => {
            // Pool::new has stopped listening only if it already failed.
            let _ = ready.send(Err(error));
            return;
        }
    };
    // As above: Pool::new is either listening or has already failed. Dropping the sender
    // lets Pool::new notice a worker that dies before reporting.
    let _ = ready.send(Ok(()));
    drop(ready);
    loop {
        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = next else {
            return;
        };
        let (outcome, healthy) = if job.cancel.is_cancelled() {
            (Err(SandboxError::Cancelled), true)
        } else {
            match panic::catch_unwind(AssertUnwindSafe(|| job.run(&mut engine))) {
                Ok(outcome) => (outcome, true),
                Err(_) => (
                    Err(SandboxError::Unavailable(
                        "the engine failed while running this code".into(),
                    )),
                    false,
                ),
            }
        };
        // The caller may have stopped waiting; the outcome is then not wanted.
        let _ = job.reply.send(outcome);
        let recovered = if healthy {
            engine.recover()
        } else {
            start().map(|fresh| engine = fresh)
        };
        if let Err(error) = recovered {
            tracing::error!(%error, "a sandbox worker could not rebuild its engine and stopped");
            return;
        }
    }
}

impl Job {
    fn run<E: Engine>(&self, engine: &mut E) -> Result<Outcome, SandboxError> {
        let call = Call {
            code: &self.code,
            limits: &self.limits,
            cancel: &self.cancel,
        };
        match &self.task {
            Task::Search => engine.search(&call),
            Task::Execute(host) => engine.execute(&call, host.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_and_tokens_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync + Clone + 'static>() {}
        shareable::<Pool>();
        shareable::<CancelToken>();
    }
}
