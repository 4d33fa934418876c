//! Stores that several replicas of the server share, behind the same interfaces as the
//! embedded ones: rate-limit counts ([`RedisLimitStore`]), approvals ([`RedisApprovals`]) and
//! paused-call records ([`RedisPausedStore`]) in Redis, and the hash-chained audit log in
//! Postgres ([`PgAuditWriter`], [`PgAuditLog`]).
//!
//! Every write is atomic on the server it goes to: a count is checked and taken in one Lua
//! script, an approval changes only if nobody changed it since it was read (compare-and-set in
//! a script), a paused call's record is read and removed in one script, and audit appends
//! serialise on the chain's head row (`SELECT … FOR UPDATE`), so replicas appending at once
//! still make one chain. URLs may carry a password: messages name a
//! store by [`redacted`] URL only.

mod postgres;
mod redis_approvals;
mod redis_limits;
mod redis_link;
mod redis_paused;
mod url_text;

pub use postgres::log::PgAuditLog;
pub use postgres::writer::PgAuditWriter;
pub use postgres::{POSTGRES_TIMEOUT, PgError};
pub use redis_approvals::RedisApprovals;
pub use redis_limits::RedisLimitStore;
pub use redis_link::{REDIS_TIMEOUT, RedisError, RedisLink};
pub use redis_paused::RedisPausedStore;
pub use url_text::redacted;
