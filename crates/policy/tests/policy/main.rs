//! Integration tests of codemode-policy, one module per theme. New tests go in the module of
//! their theme; a new theme gets its own module here.
//!
//! - `rules`: operator rules, selectors, precedence over the defaults, scopes, validation.
//! - `defaults`: the built-in rules on real Cloudflare operations.
//! - `coverage`: every operation each default rule decides, against a listing checked in.
//! - `spellings`: rules meet the canonical request, whatever spelling of the path was sent.

mod cloudflare;
mod coverage;
mod defaults;
mod rules;
mod spellings;
