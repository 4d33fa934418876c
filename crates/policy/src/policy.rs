//! The policy: operator rules, then the built-in defaults, the first matching rule deciding.

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;

use crate::glob::GlobError;
use crate::request::{Access, MissingScope, RequestFacts};
use crate::rule::{Action, CompiledRule, Rule};

/// The built-in rules, applied after the operator's.
pub const DEFAULT_RULES_TOML: &str = include_str!("../defaults.toml");

/// Why a set of policy rules was rejected.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The TOML does not parse or does not have the rule shape.
    #[error("policy rules are not valid: {0}")]
    Toml(#[from] toml::de::Error),
    /// A rule's name is empty.
    #[error("a policy rule has an empty name")]
    EmptyName,
    /// A rule gives an empty list, such as `method = []`, which would match nothing.
    #[error("policy rule {rule:?}: `{condition}` is an empty list; leave it out to match anything")]
    EmptyList {
        /// The rule's name.
        rule: String,
        /// The condition with the empty list.
        condition: &'static str,
    },
    /// A rule's path glob is malformed.
    #[error("policy rule {rule:?}: bad path glob {glob:?}: {reason}")]
    PathGlob {
        /// The rule's name.
        rule: String,
        /// The glob as written.
        glob: String,
        /// What is wrong with it.
        reason: GlobError,
    },
    /// Two rules share a name.
    #[error(
        "policy rule name {0:?} is used twice; operator rules and the defaults share one set of names"
    )]
    DuplicateName(String),
}

/// What the policy says about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Carry the request out; `rule` names the allow rule that matched, `None` when none did.
    Allow {
        /// The matching allow rule.
        rule: Option<String>,
    },
    /// Refuse the request.
    Deny {
        /// The matching deny rule.
        rule: String,
    },
    /// Carry the request out only once a human approves it.
    Approve {
        /// The matching approve rule.
        rule: String,
    },
    /// Refuse the request: the principal's scopes do not cover its method.
    Refused(MissingScope),
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Allow { rule: None } => f.write_str("allowed"),
            Decision::Allow { rule: Some(rule) } => write!(f, "allowed by policy rule {rule:?}"),
            Decision::Deny { rule } => write!(f, "denied by policy rule {rule:?}"),
            Decision::Approve { rule } => write!(f, "needs approval under policy rule {rule:?}"),
            Decision::Refused(missing) => missing.fmt(f),
        }
    }
}

/// The `[[rule]]` list of a policy TOML document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<Rule>,
}

/// Reads the `[[rule]]` list of a policy TOML document.
fn parse_rules(text: &str) -> Result<Vec<Rule>, PolicyError> {
    Ok(toml::from_str::<RuleFile>(text)?.rule)
}

/// Operator rules followed by the defaults; the first rule matching a request decides it, and a
/// request no rule matches is allowed.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Vec<CompiledRule>,
}

impl Policy {
    /// The policy of `operator_rules` followed by the defaults, validating every rule.
    pub fn new(operator_rules: Vec<Rule>) -> Result<Policy, PolicyError> {
        let defaults = parse_rules(DEFAULT_RULES_TOML)?;
        let mut names = HashSet::new();
        let rules = operator_rules
            .into_iter()
            .chain(defaults)
            .map(|rule| {
                if !names.insert(rule.name.clone()) {
                    return Err(PolicyError::DuplicateName(rule.name));
                }
                CompiledRule::compile(rule)
            })
            .collect::<Result<_, _>>()?;
        Ok(Policy { rules })
    }

    /// The policy of the operator rules in a TOML document of `[[rule]]` tables, then the defaults.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        Policy::new(parse_rules(text)?)
    }

    /// The rules in the order they are tried.
    pub(crate) fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// Decides `request` for a principal holding `access`: scopes first, then the rules.
    pub fn decide(&self, request: &RequestFacts<'_>, access: Access) -> Decision {
        if !access.covers(request.method()) {
            return Decision::Refused(MissingScope {
                method: request.method(),
                access,
            });
        }
        let Some(rule) = self.rules.iter().find(|rule| rule.matches(request)) else {
            return Decision::Allow { rule: None };
        };
        let name = rule.name.clone();
        match rule.action {
            Action::Allow => Decision::Allow { rule: Some(name) },
            Action::Deny => Decision::Deny { rule: name },
            Action::Approve => Decision::Approve { rule: name },
        }
    }
}
