//! What a principal may do with one API request.
//!
//! ```
//! use codemode_policy::{Access, Decision, Policy, RequestFacts};
//! use codemode_spec::Method;
//!
//! let policy = Policy::from_toml(
//!     r#"
//!     [[rule]]
//!     name = "prod-config-is-read-only"
//!     method = ["PUT", "DELETE"]
//!     path = "/accounts/*/storage/kv/namespaces/*/values/prod:*"
//!     action = "deny"
//!     "#,
//! )?;
//! let key = "/accounts/a1/storage/kv/namespaces/n1/values/prod%3Aconfig";
//! let put = RequestFacts::unmatched(Method::Put, key);
//! assert_eq!(
//!     policy.decide(&put, Access::READ_WRITE),
//!     Decision::Deny { rule: "prod-config-is-read-only".into() }
//! );
//! let purge = RequestFacts::unmatched(Method::Post, "/zones/z1/purge_cache");
//! assert_eq!(
//!     policy.decide(&purge, Access::READ_WRITE),
//!     Decision::Approve { rule: "cache-purge".into() }
//! );
//! assert!(matches!(policy.decide(&put, Access::READ_ONLY), Decision::Refused(_)));
//! # Ok::<(), codemode_policy::PolicyError>(())
//! ```
//!
//! A decision takes two steps. Scopes first: `execute:read` covers GET, `execute:write` every
//! other method, and a request the principal's scopes do not cover is [`Decision::Refused`].
//! Then rules, written as TOML data: the operator's `[[rule]]` tables, followed by the defaults in
//! `defaults.toml` ([`DEFAULT_RULES_TOML`]). The first rule whose conditions all hold decides
//! (`allow`, `deny` or `approve`); a request no rule matches is allowed. Rules see the request in
//! canonical form ([`canonical_path`]: decoded once, dot segments resolved), so every spelling of
//! a path the API reads as the same resource meets the same rule. A rule's `path` glob is tried
//! against the matched operation's template (`/zones/{zone_id}/dns_records`) and against the
//! canonical path, so `/zones/*/dns_records/**` covers both; `operation_id` and `tag` name the
//! operation itself, whatever route reaches it. A `deny` hides nothing from search; it only
//! refuses the call, naming the rule.

mod canonical;
mod glob;
mod policy;
mod request;
mod rule;
mod summary;

pub use canonical::canonical_path;
pub use glob::{GlobError, NameGlob, PathGlob};
pub use policy::{DEFAULT_RULES_TOML, Decision, Policy, PolicyError};
pub use request::{Access, MissingScope, RequestFacts};
pub use rule::{Action, Match, Rule};
pub use summary::ApprovalSummary;
