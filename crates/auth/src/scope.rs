//! The four permissions codemode hands out, and sets of them.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One permission a caller can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Run `search` against the API spec.
    Search,
    /// Run `execute` code that makes `GET` requests upstream.
    ExecuteRead,
    /// Run `execute` code that makes requests with any other method.
    ExecuteWrite,
    /// Approve requests that are held for a human decision.
    Approve,
}

impl Scope {
    /// Every scope, in canonical order.
    pub const ALL: [Scope; 4] = [
        Scope::Search,
        Scope::ExecuteRead,
        Scope::ExecuteWrite,
        Scope::Approve,
    ];

    /// The scope's name as it appears in tokens, config and challenges.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Search => "search",
            Scope::ExecuteRead => "execute:read",
            Scope::ExecuteWrite => "execute:write",
            Scope::Approve => "approve",
        }
    }

    /// The execute scope an upstream request needs: `GET` reads, every other method writes.
    pub fn for_method(method: &http::Method) -> Scope {
        if method == http::Method::GET {
            Scope::ExecuteRead
        } else {
            Scope::ExecuteWrite
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == name)
            .ok_or_else(|| UnknownScope(name.to_owned()))
    }
}

/// A tool a caller may call, as far as scopes are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    /// `search`: reads the API spec.
    Search,
    /// `execute`: calls the API; each request is then checked against its method's scope.
    Execute,
}

/// A scope name that codemode does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{0}` (known: search, execute:read, execute:write, approve)")]
pub struct UnknownScope(pub String);

/// A set of scopes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Scopes(u8);

impl Scopes {
    /// The set with no scopes.
    pub fn empty() -> Scopes {
        Scopes(0)
    }

    /// The set with every scope.
    pub fn all() -> Scopes {
        Scope::ALL.into_iter().collect()
    }

    /// Whether `scope` is in the set.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// The scope this set lacks to call `tool`, or `None` when it may: `search` needs
    /// `search`; `execute` needs `execute:read` or `execute:write`.
    pub fn missing_for(self, tool: Tool) -> Option<Scope> {
        let (allowed, needed) = match tool {
            Tool::Search => (self.contains(Scope::Search), Scope::Search),
            Tool::Execute => (
                self.contains(Scope::ExecuteRead) || self.contains(Scope::ExecuteWrite),
                Scope::ExecuteRead,
            ),
        };
        (!allowed).then_some(needed)
    }

    /// Adds `scope` to the set.
    pub fn insert(&mut self, scope: Scope) {
        self.0 |= scope.bit();
    }

    /// Whether the set holds no scope.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scopes in the set, in canonical order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL
            .into_iter()
            .filter(move |scope| self.contains(*scope))
    }

    /// Parses scope names strictly: an unknown name is an error (config typos must not pass).
    pub fn from_names<'a>(
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<Scopes, UnknownScope> {
        names.into_iter().map(Scope::from_str).collect()
    }

    /// Keeps the names codemode knows and ignores the rest (a token may carry scopes for other resources).
    pub fn known_in<'a>(names: impl IntoIterator<Item = &'a str>) -> Scopes {
        names
            .into_iter()
            .filter_map(|name| name.parse().ok())
            .collect()
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(scopes: I) -> Self {
        let mut set = Scopes::empty();
        for scope in scopes {
            set.insert(scope);
        }
        set
    }
}

impl FromStr for Scopes {
    type Err = UnknownScope;

    /// Parses a space-separated list, strictly.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Scopes::from_names(text.split_whitespace())
    }
}

impl fmt::Display for Scopes {
    /// Space-separated, canonical order: the form of an OAuth `scope` value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, scope) in self.iter().enumerate() {
            if index > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scopes({self})")
    }
}

impl Serialize for Scopes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(Scope::as_str))
    }
}

impl<'de> Deserialize<'de> for Scopes {
    /// Accepts a list of names or one space-separated string; unknown names are errors.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScopesVisitor)
    }
}

struct ScopesVisitor;

impl<'de> Visitor<'de> for ScopesVisitor {
    type Value = Scopes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of scope names or a space-separated string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Scopes, E> {
        text.parse().map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scopes, A::Error> {
        let mut set = Scopes::empty();
        while let Some(name) = seq.next_element::<String>()? {
            set.insert(name.parse().map_err(de::Error::custom)?);
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_in_canonical_order() {
        let scopes: Scopes = "approve search".parse().expect("known scopes");
        assert_eq!(scopes.to_string(), "search approve");
        assert!(scopes.contains(Scope::Search));
        assert!(!scopes.contains(Scope::ExecuteRead));
        assert_eq!(
            Scopes::all().to_string(),
            "search execute:read execute:write approve"
        );
        assert!(Scopes::empty().is_empty());
    }

    #[test]
    fn strict_parsing_rejects_unknown_names() {
        let error = "search execute"
            .parse::<Scopes>()
            .expect_err("unknown name");
        assert_eq!(error, UnknownScope("execute".into()));
    }

    #[test]
    fn lenient_parsing_keeps_known_names() {
        let scopes = Scopes::known_in(["openid", "execute:read", "upstream:forward"]);
        assert_eq!(scopes.iter().collect::<Vec<_>>(), vec![Scope::ExecuteRead]);
    }

    #[test]
    fn execute_scope_follows_the_method() {
        assert_eq!(Scope::for_method(&http::Method::GET), Scope::ExecuteRead);
        assert_eq!(Scope::for_method(&http::Method::HEAD), Scope::ExecuteWrite);
        assert_eq!(
            Scope::for_method(&http::Method::DELETE),
            Scope::ExecuteWrite
        );
    }

    #[test]
    fn deserializes_from_list_or_string() {
        let list: Scopes = serde_json::from_str(r#"["search","approve"]"#).expect("list");
        let text: Scopes = serde_json::from_str(r#""search approve""#).expect("string");
        assert_eq!(list, text);
        assert_eq!(
            serde_json::to_string(&list).expect("serialize"),
            r#"["search","approve"]"#
        );
        assert!(serde_json::from_str::<Scopes>(r#"["admin"]"#).is_err());
    }
}
