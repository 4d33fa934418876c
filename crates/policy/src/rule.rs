//! One policy rule as operators write it, and the compiled form requests are matched against.

use codemode_spec::Method;
use serde::{Deserialize, Deserializer};

use crate::glob::{NameGlob, PathGlob};
use crate::policy::PolicyError;
use crate::request::RequestFacts;

/// What a matching rule does with the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Carry the request out.
    Allow,
    /// Refuse the request, naming the rule.
    Deny,
    /// Carry the request out only once a human approves it.
    Approve,
}

/// A rule as written in TOML (`[[rule]]`): every condition given must hold, a condition left out
/// matches anything.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The name decisions and messages quote; unique across operator rules and the defaults.
    pub name: String,
    /// The methods it covers, e.g. `["PUT", "DELETE"]`; left out, every method.
    #[serde(default, deserialize_with = "method_names")]
    pub method: Option<Vec<Method>>,
    /// A path glob (see [`PathGlob`]) tried against the operation's template and the concrete path.
    pub path: Option<String>,
    /// A glob over the operation's `operationId`, where `*` matches any run of characters.
    pub operation_id: Option<String>,
    /// A tag the operation must carry, compared exactly.
    pub tag: Option<String>,
    /// What to do with a matching request.
    pub action: Action,
}

/// Reads `method = ["GET", ...]`, accepting any letter case.
fn method_names<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<Method>>, D::Error> {
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|name| name.parse().map_err(serde::de::Error::custom))
        .collect::<Result<_, _>>()
        .map(Some)
}

/// A validated rule with its globs compiled.
#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub(crate) name: String,
    pub(crate) action: Action,
    methods: Option<Vec<Method>>,
    path: Option<PathGlob>,
    operation_id: Option<NameGlob>,
    tag: Option<String>,
}

impl CompiledRule {
    /// Validates `rule` and compiles its globs.
    pub(crate) fn compile(rule: Rule) -> Result<CompiledRule, PolicyError> {
        if rule.name.trim().is_empty() {
            return Err(PolicyError::EmptyName);
        }
        if rule.method.as_ref().is_some_and(Vec::is_empty) {
            return Err(PolicyError::NoMethods(rule.name));
        }
        let path = match &rule.path {
            Some(glob) => Some(
                PathGlob::parse(glob).map_err(|reason| PolicyError::PathGlob {
                    rule: rule.name.clone(),
                    glob: glob.clone(),
                    reason,
                })?,
            ),
            None => None,
        };
        Ok(CompiledRule {
            path,
            operation_id: rule.operation_id.as_deref().map(NameGlob::new),
            methods: rule.method,
            tag: rule.tag,
            name: rule.name,
            action: rule.action,
        })
    }

    /// Whether every condition of the rule holds for `request`.
    pub(crate) fn matches(&self, request: &RequestFacts<'_>) -> bool {
        self.methods
            .as_ref()
            .is_none_or(|methods| methods.contains(&request.method))
            && self.path.as_ref().is_none_or(|glob| {
                request.template.is_some_and(|t| glob.matches(t)) || glob.matches(request.path)
            })
            && self
                .operation_id
                .as_ref()
                .is_none_or(|glob| request.operation_id.is_some_and(|id| glob.matches(id)))
            && self
                .tag
                .as_ref()
                .is_none_or(|tag| request.tags.iter().any(|t| t == tag))
    }
}
