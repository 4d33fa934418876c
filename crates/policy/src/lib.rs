//! What a principal may do with one API request.
//!
//! A decision takes two steps. Scopes first: `execute:read` covers GET, `execute:write` every
//! other method, and a request the principal's scopes do not cover is [`Decision::Refused`].
//! Then rules, written as TOML data: the operator's `[[rule]]` tables, followed by the defaults in
//! `defaults.toml` ([`DEFAULT_RULES_TOML`]). The first rule whose conditions all hold decides
//! (`allow`, `deny` or `approve`); a request no rule matches is allowed. A rule's `path` glob is
//! tried against the matched operation's template (`/zones/{zone_id}/dns_records`) and against
//! the concrete path, so `/zones/*/dns_records/**` covers both. A `deny` hides nothing from
//! search; it only refuses the call, naming the rule.

mod glob;
mod policy;
mod request;
mod rule;

pub use glob::{GlobError, NameGlob, PathGlob};
pub use policy::{DEFAULT_RULES_TOML, Decision, Policy, PolicyError};
pub use request::{Access, MissingScope, RequestFacts};
pub use rule::{Action, Rule};
