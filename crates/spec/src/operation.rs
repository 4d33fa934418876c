//! The operations of a spec, as the request gateway and the tool descriptions need them.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// One of the five HTTP methods agent code may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// All methods, in the order the view lists them.
    pub const ALL: [Method; 5] = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
    ];

    /// The upper-case HTTP name, e.g. `"GET"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// The lower-case key OpenAPI uses under a path item, e.g. `"get"`.
    pub fn openapi_key(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Method {
    /// Writes the upper-case HTTP name.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The error for a method name outside the five allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("method must be one of GET, POST, PUT, PATCH, DELETE (got {0:?})")]
pub struct UnknownMethod(pub String);

impl FromStr for Method {
    type Err = UnknownMethod;

    /// Parses a method name, case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownMethod(s.to_string()))
    }
}

/// One operation of the spec: a method on a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The HTTP method.
    pub method: Method,
    /// The path template as written in the spec, e.g. `/zones/{zone_id}/dns_records`.
    pub path: String,
    /// The spec's `operationId`, if any.
    pub operation_id: Option<String>,
    /// The tags, product segment first.
    pub tags: Vec<String>,
}

impl Operation {
    /// The product the operation belongs to: its first tag.
    pub fn product(&self) -> &str {
        self.tags.first().map_or("", String::as_str)
    }
}

/// A product of the API and how many operations it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// The product segment of its paths, e.g. `dns_records` or `workers`.
    pub name: String,
    /// Its number of operations.
    pub operations: usize,
}

/// The products of `operations`, most operations first, ties by name.
pub(crate) fn products(operations: &[Operation]) -> Vec<Product> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for operation in operations {
        *counts.entry(operation.product()).or_default() += 1;
    }
    let mut products: Vec<Product> = counts
        .into_iter()
        .map(|(name, operations)| Product {
            name: name.to_string(),
            operations,
        })
        .collect();
    products.sort_by(|a, b| {
        b.operations
            .cmp(&a.operations)
            .then_with(|| a.name.cmp(&b.name))
    });
    products
}

/// The product segment of a path template: the segment after `/accounts/{…}/` or
/// `/zones/{…}/`, otherwise the first segment (`/user/tokens` is `user`, `/zones/{zone_id}` is
/// `zones`); `root` for `/`.
pub fn product_segment(path: &str) -> &str {
    let mut segments = path.split('/').filter(|segment| !segment.is_empty());
    match (segments.next(), segments.next(), segments.next()) {
        (Some("accounts" | "zones"), Some(id), Some(product)) if id.starts_with('{') => product,
        (Some(first), _, _) => first,
        (None, _, _) => "root",
    }
}

#[cfg(test)]
mod tests {
    use super::{Method, Operation, Product, product_segment, products};

    #[test]
    fn the_product_is_the_segment_after_the_account_or_zone() {
        assert_eq!(
            product_segment("/accounts/{account_id}/workers/scripts"),
            "workers"
        );
        assert_eq!(
            product_segment("/zones/{zone_id}/dns_records/{id}"),
            "dns_records"
        );
        assert_eq!(product_segment("/zones/{zone_id}"), "zones");
        assert_eq!(product_segment("/accounts"), "accounts");
        assert_eq!(product_segment("/user/tokens"), "user");
        assert_eq!(product_segment("/accounts/list/things"), "accounts");
        assert_eq!(product_segment("/"), "root");
    }

    #[test]
    fn products_count_operations_and_sort_by_count_then_name() {
        let operation = |path: &str| Operation {
            method: Method::Get,
            path: path.to_string(),
            operation_id: None,
            tags: vec![product_segment(path).to_string()],
        };
        let listed = products(&[
            operation("/b"),
            operation("/a"),
            operation("/c/1"),
            operation("/c/2"),
        ]);
        let product = |name: &str, operations| Product {
            name: name.to_string(),
            operations,
        };
        assert_eq!(listed, [product("c", 2), product("a", 1), product("b", 1)]);
    }

    #[test]
    fn methods_parse_case_insensitively_and_refuse_others() {
        assert_eq!("patch".parse::<Method>(), Ok(Method::Patch));
        assert_eq!("GET".parse::<Method>(), Ok(Method::Get));
        assert!("HEAD".parse::<Method>().is_err());
    }
}
