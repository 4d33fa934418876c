//! The worker pool: dedicated threads, each with its own engine, fed from one bounded queue.

use std::pin::pin;
use std::sync::mpsc;
use std::sync::{Arc, mpsc::Sender};
use std::thread;
use std::time::Instant;

use codemode_spec::{Node, Spec};
use tokio::runtime::Handle;
use tokio::sync::{Semaphore, oneshot};

use crate::cancel::CancelToken;
use crate::error::SandboxError;
use crate::host::Host;
use crate::limits::{Limits, PoolConfig};
use crate::outcome::Outcome;
use crate::queue::{Job, Queue, Task};
use crate::quickjs::QuickJs;
use crate::worker::{self, Worker};

/// Native stack of a worker thread: generous, since QuickJS recursion is bounded separately
/// by `Limits::stack_bytes`.
const WORKER_STACK_BYTES: usize = 16 << 20;

/// What a pool is doing at one moment, for the operator's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLoad {
    /// Worker threads in service.
    pub workers: usize,
    /// Workers running code.
    pub busy: usize,
    /// Calls waiting for a worker.
    pub queued: usize,
    /// `execute` calls in progress, those waiting on their host included.
    pub executes: usize,
}

/// Runs agent code on dedicated worker threads. Cheap to clone; calls beyond what the workers
/// are running queue, up to `PoolConfig::queue`. An `execute` waiting on its host holds no
/// worker. Dropping the last clone stops the workers once their calls finish.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    queue: Arc<Queue>,
    config: PoolConfig,
    /// One permit per `execute` that may be in progress.
    executes: Arc<Semaphore>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.queue.close();
    }
}

impl Pool {
    /// Starts a pool whose `search` code reads the loaded `spec` as `spec`, with its ranked
    /// `spec.find` and compact `spec.op`; otherwise as [`Pool::new`].
    pub fn for_spec(
        spec: Arc<Spec>,
        config: PoolConfig,
        runtime: Handle,
    ) -> Result<Pool, SandboxError> {
        Pool::start(spec.view().clone(), Some(spec), Vec::new(), config, runtime)
    }

    /// Like [`Pool::for_spec`], for a server with several APIs: `execute` code reaches the
    /// first as `config.api_global` and each of `others` by its name; `search` code reads
    /// each spec as `specs[name]` (the first also as `spec`), and `spec.find` ranks them all.
    pub fn for_specs(
        spec: Arc<Spec>,
        others: Vec<(String, Arc<Spec>)>,
        config: PoolConfig,
        runtime: Handle,
    ) -> Result<Pool, SandboxError> {
        Pool::start(spec.view().clone(), Some(spec), others, config, runtime)
    }

    /// Starts `config.workers` threads (at least one), each building the JavaScript form of
    /// `view` once, which `search` code reads as `spec` (a bare view: no `spec.find` or
    /// `spec.op`); returns when all are ready. Host futures run on `runtime`.
    pub fn new(view: Arc<Node>, config: PoolConfig, runtime: Handle) -> Result<Pool, SandboxError> {
        Pool::start(view, None, Vec::new(), config, runtime)
    }

    fn start(
        view: Arc<Node>,
        spec: Option<Arc<Spec>>,
        others: Vec<(String, Arc<Spec>)>,
        config: PoolConfig,
        runtime: Handle,
    ) -> Result<Pool, SandboxError> {
        let workers = config.workers.max(1);
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..workers).map(|_| mpsc::channel()).unzip();
        let queue = Arc::new(Queue::new(config.queue, senders.clone()));
        let (ready, started) = mpsc::channel();
        let others: Arc<[(String, Arc<Spec>)]> = others.into();
        for (index, (signals, wake)) in receivers.into_iter().zip(senders).enumerate() {
            let (queue, ready): (Arc<Queue>, Sender<_>) = (queue.clone(), ready.clone());
            let (view, spec, handle) = (view.clone(), spec.clone(), runtime.clone());
            let (api_global, others) = (config.api_global.clone(), others.clone());
            thread::Builder::new()
                .name(format!("sandbox-{index}"))
                .stack_size(WORKER_STACK_BYTES)
                .spawn(move || {
                    let worker = Worker {
                        index,
                        queue: &queue,
                        signals,
                        wake,
                    };
                    worker::work(
                        worker,
                        || {
                            QuickJs::new(
                                view.clone(),
                                spec.clone(),
                                handle.clone(),
                                &api_global,
                                others.clone(),
                            )
                        },
                        ready,
                    );
                })
                .map_err(|error| {
                    SandboxError::Unavailable(format!("could not start a worker thread: {error}"))
                })?;
        }
        drop(ready);
        let executes = Arc::new(Semaphore::new(config.executes.min(Semaphore::MAX_PERMITS)));
        let inner = Arc::new(Inner {
            queue,
            config,
            executes,
        });
        for _ in 0..workers {
            started.recv().map_err(|_| {
                SandboxError::Unavailable("a worker stopped while starting".into())
            })??;
        }
        Ok(Pool { inner })
    }

    /// What the pool is doing now.
    pub fn load(&self) -> PoolLoad {
        let (workers, busy, queued) = self.inner.queue.load();
        let permits = self.inner.config.executes.min(Semaphore::MAX_PERMITS);
        PoolLoad {
            workers,
            busy,
            queued,
            executes: permits.saturating_sub(self.inner.executes.available_permits()),
        }
    }

    /// Runs `search` code against the spec; `cancel` stops it early.
    pub async fn search(&self, code: &str, cancel: CancelToken) -> Result<Outcome, SandboxError> {
        self.run(Task::Search, code, &self.inner.config.search, cancel)
            .await
    }

    /// Runs `execute` code whose requests, account id and console go through `host`;
    /// `cancel` stops it early. Refused as busy when `PoolConfig::executes` are in progress.
    pub async fn execute(
        &self,
        code: &str,
        host: Arc<dyn Host>,
        cancel: CancelToken,
    ) -> Result<Outcome, SandboxError> {
        let _in_progress =
            self.inner
                .executes
                .try_acquire()
                .map_err(|_| SandboxError::TooManyExecutes {
                    executes: self.inner.config.executes,
                })?;
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
        let accepted = Instant::now();
        let cancel = cancel.child();
        let _cancel_if_abandoned = CancelOnDrop(cancel.clone());
        let (stop, stopped) = oneshot::channel();
        let _listening = cancel.on_cancel(move || {
            // The call may be over already, with no one left to tell.
            let _ = stop.send(());
        });
        let (reply, answer) = oneshot::channel();
        let id = self.inner.queue.push(|id| Job {
            id,
            task,
            code: code.to_owned(),
            limits: limits.clone(),
            accepted,
            cancel: cancel.clone(),
            reply,
        })?;
        let deadline = tokio::time::Instant::from_std(accepted + limits.timeout);
        let mut answer = pin!(answer);
        tokio::select! {
            biased;
            outcome = &mut answer => return outcome_of(outcome),
            _ = stopped => {
                self.inner.queue.remove(id);
                return Err(SandboxError::Cancelled);
            }
            () = tokio::time::sleep_until(deadline) => {}
        }
        // Past its limit: a call still queued is answered now; one a worker has taken is
        // stopped by that worker, which answers.
        if self.inner.queue.remove(id) {
            return Err(SandboxError::Timeout {
                limit: limits.timeout,
            });
        }
        outcome_of(answer.await)
    }
}

/// The outcome a worker sent, or why none came.
fn outcome_of(
    sent: Result<Result<Outcome, SandboxError>, oneshot::error::RecvError>,
) -> Result<Outcome, SandboxError> {
    sent.map_err(|_| SandboxError::Unavailable("the worker running this call stopped".into()))?
}

/// Cancels a call whose caller stopped waiting for it.
struct CancelOnDrop(CancelToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
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
