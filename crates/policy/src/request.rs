//! The facts about one request a policy decides on, and the access its principal holds.

use codemode_spec::{Method, Operation};

use crate::canonical::canonical_path;

/// One request as the policy sees it: the method, the canonical path (see [`canonical_path`])
/// and, when the request matched an operation of the spec, that operation's template,
/// `operationId` and tags. Built only by its constructors, so the path is always canonical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFacts<'a> {
    method: Method,
    template: Option<&'a str>,
    path: String,
    operation_id: Option<&'a str>,
    tags: &'a [String],
}

impl<'a> RequestFacts<'a> {
    /// The facts for a request to `path` (as sent, still percent-encoded) that matched
    /// `operation` in the spec.
    pub fn for_operation(operation: &'a Operation, path: &str) -> RequestFacts<'a> {
        RequestFacts {
            method: operation.method,
            template: Some(&operation.path),
            path: canonical_path(path),
            operation_id: operation.operation_id.as_deref(),
            tags: &operation.tags,
        }
    }

    /// The facts for a `method` request to `path` (as sent) that matched no operation of the spec.
    pub fn unmatched(method: Method, path: &str) -> RequestFacts<'a> {
        RequestFacts {
            method,
            template: None,
            path: canonical_path(path),
            operation_id: None,
            tags: &[],
        }
    }

    /// The HTTP method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The matched operation's path template, e.g. `/zones/{zone_id}/dns_records`.
    pub fn template(&self) -> Option<&'a str> {
        self.template
    }

    /// The canonical path, e.g. `/accounts/a/storage/kv/namespaces/n/values/prod:config`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The matched operation's `operationId`.
    pub fn operation_id(&self) -> Option<&'a str> {
        self.operation_id
    }

    /// The matched operation's tags.
    pub fn tags(&self) -> &'a [String] {
        self.tags
    }
}

/// The `execute` scopes a principal holds: `execute:read` covers GET, `execute:write` the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Holds `execute:read`.
    pub read: bool,
    /// Holds `execute:write`.
    pub write: bool,
}

impl Access {
    /// Both scopes.
    pub const READ_WRITE: Access = Access {
        read: true,
        write: true,
    };
    /// `execute:read` only.
    pub const READ_ONLY: Access = Access {
        read: true,
        write: false,
    };

    /// The scope `method` needs.
    pub fn scope_for(method: Method) -> &'static str {
        match method {
            Method::Get => "execute:read",
            _ => "execute:write",
        }
    }

    /// Whether these scopes cover `method`.
    pub fn covers(self, method: Method) -> bool {
        match method {
            Method::Get => self.read,
            _ => self.write,
        }
    }

    /// How a principal with these scopes is described in refusals.
    fn describe(self) -> &'static str {
        match (self.read, self.write) {
            (true, true) => "principal",
            (true, false) => "read-only principal",
            (false, true) => "write-only principal",
            (false, false) => "principal without execute scopes",
        }
    }
}

/// A refusal because the principal's scopes do not cover the request's method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}: {method} needs the {} scope", access.describe(), Access::scope_for(*method))]
pub struct MissingScope {
    /// The method refused.
    pub method: Method,
    /// The scopes the principal holds.
    pub access: Access,
}
