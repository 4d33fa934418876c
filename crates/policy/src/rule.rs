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

/// How a rule combines its selectors (`path`, `operation_id`, `tag`); `method` must always hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Match {
    /// Every selector given must hold (the default).
    #[default]
    All,
    /// One selector given is enough: a capability named by its operations and by its paths, so
    /// a request outside the spec is still caught by path.
    Any,
}

/// A rule as written in TOML (`[[rule]]`): the method must be listed (when `method` is given),
/// and the selectors `path`, `operation_id` and `tag` combine as `match` says. Each selector is
/// one string or a list, and holds when any entry matches. A condition left out matches anything.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The name decisions and messages quote; unique across operator rules and the defaults.
    pub name: String,
    /// The methods it covers, e.g. `["PUT", "DELETE"]`; left out, every method.
    #[serde(default, deserialize_with = "method_names")]
    pub method: Option<Vec<Method>>,
    /// Path globs (see [`PathGlob`]) tried against the operation's template and the canonical path.
    #[serde(default, deserialize_with = "one_or_many")]
    pub path: Option<Vec<String>>,
    /// Globs over the operation's `operationId`, where `*` matches any run of characters.
    #[serde(default, deserialize_with = "one_or_many")]
    pub operation_id: Option<Vec<String>>,
    /// Tags of which the operation must carry one, compared exactly.
    #[serde(default, deserialize_with = "one_or_many")]
    pub tag: Option<Vec<String>>,
    /// How the selectors combine.
    #[serde(default, rename = "match")]
    pub matching: Match,
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

/// Reads `key = "one"` or `key = ["one", "two"]`.
fn one_or_many<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(Some(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    }))
}

/// A validated rule with its globs compiled.
#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub(crate) name: String,
    pub(crate) action: Action,
    methods: Option<Vec<Method>>,
    paths: Option<Vec<PathGlob>>,
    operation_ids: Option<Vec<NameGlob>>,
    tags: Option<Vec<String>>,
    matching: Match,
}

impl CompiledRule {
    /// Validates `rule` and compiles its globs.
    pub(crate) fn compile(rule: Rule) -> Result<CompiledRule, PolicyError> {
        if rule.name.trim().is_empty() {
            return Err(PolicyError::EmptyName);
        }
        let lists = [
            ("method", rule.method.as_ref().map(Vec::len)),
            ("path", rule.path.as_ref().map(Vec::len)),
            ("operation_id", rule.operation_id.as_ref().map(Vec::len)),
            ("tag", rule.tag.as_ref().map(Vec::len)),
        ];
        if let Some((condition, _)) = lists.into_iter().find(|(_, len)| *len == Some(0)) {
            return Err(PolicyError::EmptyList {
                rule: rule.name,
                condition,
            });
        }
        let paths = rule
            .path
            .as_ref()
            .map(|globs| {
                globs
                    .iter()
                    .map(|glob| {
                        PathGlob::parse(glob).map_err(|reason| PolicyError::PathGlob {
                            rule: rule.name.clone(),
                            glob: glob.clone(),
                            reason,
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        Ok(CompiledRule {
            paths,
            operation_ids: rule.operation_id.map(|globs| {
                globs
                    .iter()
                    .map(String::as_str)
                    .map(NameGlob::new)
                    .collect()
            }),
            methods: rule.method,
            tags: rule.tag,
            matching: rule.matching,
            name: rule.name,
            action: rule.action,
        })
    }

    /// The methods the rule covers; `None` for every method.
    pub(crate) fn methods(&self) -> Option<&[Method]> {
        self.methods.as_deref()
    }

    /// Whether the rule names no path, operation or tag, so it holds for every request of
    /// its methods.
    pub(crate) fn selects_everything(&self) -> bool {
        self.paths.is_none() && self.operation_ids.is_none() && self.tags.is_none()
    }

    /// Whether the rule's method and selectors hold for `request`.
    pub(crate) fn matches(&self, request: &RequestFacts<'_>) -> bool {
        let method = self
            .methods
            .as_ref()
            .is_none_or(|methods| methods.contains(&request.method()));
        let path = self.paths.as_ref().map(|globs| {
            globs.iter().any(|glob| {
                request.template().is_some_and(|t| glob.matches(t)) || glob.matches(request.path())
            })
        });
        let operation_id = self.operation_ids.as_ref().map(|globs| {
            request
                .operation_id()
                .is_some_and(|id| globs.iter().any(|glob| glob.matches(id)))
        });
        let tag = self
            .tags
            .as_ref()
            .map(|tags| request.tags().iter().any(|t| tags.contains(t)));
        let mut given = [path, operation_id, tag].into_iter().flatten().peekable();
        method
            && match self.matching {
                Match::All => given.all(|holds| holds),
                Match::Any => given.peek().is_none() || given.any(|holds| holds),
            }
    }
}
