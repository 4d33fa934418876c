//! Rate limits and quotas for tool calls.
//!
//! [`Limiter::begin`] applies every limit to one call, in order: the user's refusals this hour,
//! the code length, the user's concurrent calls, the session's calls of that tool (when the call
//! has a session) and, for `execute`, the user's calls today (UTC). A call refused by a later
//! limit gives back what the earlier ones counted and counts as one refusal. The
//! [`CallPermit`] it returns holds the concurrency slot until dropped. Counts live behind the
//! [`LimitStore`] trait; [`MemoryStore`] keeps them in this process, and a shared store
//! (Redis, in codemode-stores) lets replicas count together.
//!
//! ```
//! use codemode_ratelimit::{Denied, Limit, Limiter, Limits, Tool};
//!
//! # futures::executor::block_on(async {
//! let limiter = Limiter::new(Limits { execute_per_session: 1, ..Limits::default() });
//! let permit = limiter.begin("alice", Some("session-1"), Tool::Execute, "async () => 1").await?;
//! drop(permit);
//! let Err(Denied::Limit(refused)) =
//!     limiter.begin("alice", Some("session-1"), Tool::Execute, "async () => 2").await
//! else {
//!     panic!("one execute call per session");
//! };
//! assert_eq!(refused.limit, Limit::ExecutePerSession);
//! # Ok::<(), Denied>(())
//! # }).unwrap();
//! ```

mod clock;
mod exceeded;
mod limiter;
mod limits;
mod store;

pub use clock::{Clock, SystemClock};
pub use exceeded::{Limit, LimitExceeded, Reset, check_code_length};
pub use limiter::Denied;
pub use limiter::{CallPermit, Limiter};
pub use limits::{Limits, Tool};
pub use store::{
    AcquireFuture, AcquireResult, Acquired, Full, LimitKey, LimitStore, MemoryStore,
    StoreUnavailable, Window,
};
