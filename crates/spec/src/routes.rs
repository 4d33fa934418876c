//! Matches a method and concrete path to an operation of the spec.
//!
//! Operations are indexed by method and segment count. A `{param}` segment matches any one
//! non-empty segment; a segment mixing text and parameters (`{name}.json`) matches accordingly;
//! literal segments match exactly. When several templates match, the one with a literal earliest
//! wins (`/zones/{zone_id}/settings/ssl` beats `/zones/{zone_id}/settings/{setting_id}`).

use std::collections::HashMap;

use crate::operation::{Method, Operation};

/// Every operation of a spec, ready for matching.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: HashMap<(Method, usize), Vec<Route>>,
}

#[derive(Debug)]
struct Route {
    operation: Operation,
    segments: Vec<Segment>,
    /// Per segment: 0 literal, 1 mixed, 2 parameter. Lower sorts first, so it wins.
    rank: Vec<u8>,
}

#[derive(Debug)]
enum Segment {
    Literal(String),
    Param,
    Mixed(Vec<Piece>),
}

#[derive(Debug)]
enum Piece {
    Text(String),
    Param,
}

impl RouteTable {
    /// Indexes the operations; a trailing `/` on a template is ignored.
    pub fn new(operations: &[Operation]) -> RouteTable {
        let mut routes: HashMap<(Method, usize), Vec<Route>> = HashMap::new();
        for operation in operations {
            let route = Route::parse(operation);
            routes
                .entry((operation.method, route.segments.len()))
                .or_default()
                .push(route);
        }
        RouteTable { routes }
    }

    /// The best operation for `method` on a path with these segments.
    pub fn find(&self, method: Method, segments: &[&str]) -> Option<&Operation> {
        self.routes
            .get(&(method, segments.len()))?
            .iter()
            .filter(|route| route.matches(segments))
            .min_by(|a, b| a.rank.cmp(&b.rank))
            .map(|route| &route.operation)
    }

    /// The methods some operation accepts on a path with these segments.
    pub fn methods_for(&self, segments: &[&str]) -> Vec<Method> {
        Method::ALL
            .into_iter()
            .filter(|&method| self.find(method, segments).is_some())
            .collect()
    }

    /// Up to `limit` operations whose method and path are closest to a method and path that
    /// matched none, closest first.
    pub fn nearest(&self, method: Method, segments: &[&str], limit: usize) -> Vec<&Operation> {
        let mut scored: Vec<(f32, &Operation)> = self
            .routes
            .values()
            .flatten()
            .map(|route| (route.closeness(method, segments), &route.operation))
            .filter(|(score, _)| *score > 0.0)
            .collect();
        scored.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| a.1.path.cmp(&b.1.path))
                .then_with(|| a.1.method.cmp(&b.1.method))
        });
        scored.into_iter().take(limit).map(|(_, op)| op).collect()
    }

    /// How many operations the table holds.
    pub fn len(&self) -> usize {
        self.routes.values().map(Vec::len).sum()
    }

    /// Whether the table holds no operation.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

impl Route {
    fn parse(operation: &Operation) -> Route {
        let trimmed = operation.path.trim_start_matches('/').trim_end_matches('/');
        let segments: Vec<Segment> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split('/').map(Segment::parse).collect()
        };
        let rank = segments
            .iter()
            .map(|segment| match segment {
                Segment::Literal(_) => 0,
                Segment::Mixed(_) => 1,
                Segment::Param => 2,
            })
            .collect();
        Route {
            operation: operation.clone(),
            segments,
            rank,
        }
    }

    /// How close a method and path are to this route: literal segments that match or nearly
    /// match count most, a differing length and another method count against.
    fn closeness(&self, method: Method, segments: &[&str]) -> f32 {
        let aligned: f32 = self
            .segments
            .iter()
            .zip(segments)
            .map(|(pattern, segment)| match pattern {
                Segment::Literal(literal) if literal == segment => 3.0,
                Segment::Literal(literal) if nearly(literal, segment) => 2.0,
                Segment::Literal(_) => -1.0,
                Segment::Param if segment.starts_with('{') => 1.5,
                Segment::Param | Segment::Mixed(_) => 0.5,
            })
            .sum();
        let length = self.segments.len().abs_diff(segments.len()) as f32;
        let same_method = if self.operation.method == method {
            1.0
        } else {
            0.0
        };
        aligned - 1.5 * length + same_method
    }

    fn matches(&self, segments: &[&str]) -> bool {
        self.segments
            .iter()
            .zip(segments)
            .all(|(pattern, segment)| pattern.matches(segment))
    }
}

impl Segment {
    fn parse(text: &str) -> Segment {
        let pieces = pieces(text);
        match pieces.as_slice() {
            [Piece::Param] => Segment::Param,
            [Piece::Text(literal)] => Segment::Literal(literal.clone()),
            _ => Segment::Mixed(pieces),
        }
    }

    fn matches(&self, segment: &str) -> bool {
        match self {
            Segment::Literal(literal) => literal == segment,
            Segment::Param => !segment.is_empty(),
            Segment::Mixed(pieces) => pieces_match(pieces, segment),
        }
    }
}

/// Whether two segments differ only slightly: one is the other plus or minus a short ending
/// (`dns_record` and `dns_records`), or at most two letters differ.
fn nearly(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.len() >= 3 && long.starts_with(short) && long.len() - short.len() <= 2 {
        return true;
    }
    short.len() >= 4 && edit_distance(a.as_bytes(), b.as_bytes()) <= 2
}

/// The Levenshtein distance between two byte strings.
fn edit_distance(a: &[u8], b: &[u8]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, &x) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, &y) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(x != y);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// Splits `a{b}c` into text and parameter pieces; an unclosed `{` is text.
fn pieces(mut text: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    while !text.is_empty() {
        let param = text
            .find('{')
            .and_then(|open| text[open..].find('}').map(|close| (open, open + close)));
        match param {
            Some((open, close)) => {
                if open > 0 {
                    pieces.push(Piece::Text(text[..open].to_string()));
                }
                pieces.push(Piece::Param);
                text = &text[close + 1..];
            }
            None => {
                pieces.push(Piece::Text(text.to_string()));
                text = "";
            }
        }
    }
    pieces
}

/// Whether `segment` matches the pieces, each parameter taking at least one character.
fn pieces_match(pieces: &[Piece], segment: &str) -> bool {
    match pieces.split_first() {
        None => segment.is_empty(),
        Some((Piece::Text(text), rest)) => segment
            .strip_prefix(text.as_str())
            .is_some_and(|tail| pieces_match(rest, tail)),
        Some((Piece::Param, rest)) => (1..=segment.len())
            .filter(|&at| segment.is_char_boundary(at))
            .any(|at| pieces_match(rest, &segment[at..])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template<'a>(table: &'a RouteTable, method: Method, segments: &[&str]) -> Option<&'a str> {
        table.find(method, segments).map(|op| op.path.as_str())
    }

    fn op(method: Method, path: &str) -> Operation {
        Operation {
            method,
            path: path.to_string(),
            operation_id: None,
            tags: Vec::new(),
        }
    }

    fn segments(path: &str) -> Vec<&str> {
        path.trim_start_matches('/').split('/').collect()
    }

    fn table() -> RouteTable {
        RouteTable::new(&[
            op(Method::Get, "/zones"),
            op(Method::Get, "/zones/{zone_id}"),
            op(Method::Patch, "/zones/{zone_id}"),
            op(Method::Get, "/zones/{zone_id}/settings/{setting_id}"),
            op(Method::Get, "/zones/{zone_id}/settings/ssl"),
            op(Method::Get, "/zones/{zone_id}/dns_records/export"),
            op(Method::Get, "/zones/{zone_id}/dns_records/{dns_record_id}"),
            op(Method::Get, "/{a}/{b}/x"),
            op(Method::Get, "/scripts/{name}.js"),
            op(Method::Get, "/ranges/{from}-{to}"),
            op(Method::Get, "/trailing/"),
        ])
    }

    #[test]
    fn templates_match_one_non_empty_segment() {
        let table = table();
        assert_eq!(
            template(&table, Method::Get, &segments("/zones/abc")),
            Some("/zones/{zone_id}")
        );
        assert_eq!(
            template(&table, Method::Get, &segments("/zones")),
            Some("/zones")
        );
        assert_eq!(template(&table, Method::Get, &["zones", ""]), None);
        assert_eq!(
            template(&table, Method::Get, &segments("/zones/abc/def")),
            None
        );
        assert_eq!(
            template(&table, Method::Delete, &segments("/zones/abc")),
            None
        );
        assert_eq!(template(&table, Method::Get, &segments("/zone/abc")), None);
    }

    #[test]
    fn literal_segments_win_over_templates() {
        let table = table();
        assert_eq!(
            template(&table, Method::Get, &segments("/zones/z/settings/ssl")),
            Some("/zones/{zone_id}/settings/ssl")
        );
        assert_eq!(
            template(&table, Method::Get, &segments("/zones/z/settings/tls_1_3")),
            Some("/zones/{zone_id}/settings/{setting_id}")
        );
        assert_eq!(
            template(
                &table,
                Method::Get,
                &segments("/zones/z/dns_records/export")
            ),
            Some("/zones/{zone_id}/dns_records/export")
        );
        assert_eq!(
            template(&table, Method::Get, &segments("/zones/z/x")),
            Some("/{a}/{b}/x")
        );
    }

    #[test]
    fn mixed_segments_and_trailing_slashes() {
        let table = table();
        assert_eq!(
            template(&table, Method::Get, &segments("/scripts/app.js")),
            Some("/scripts/{name}.js")
        );
        assert_eq!(
            template(&table, Method::Get, &segments("/scripts/.js")),
            None
        );
        assert_eq!(
            template(&table, Method::Get, &segments("/scripts/app.css")),
            None
        );
        assert_eq!(
            template(&table, Method::Get, &segments("/ranges/1-2")),
            Some("/ranges/{from}-{to}")
        );
        assert_eq!(template(&table, Method::Get, &segments("/ranges/-2")), None);
        assert_eq!(
            template(&table, Method::Get, &segments("/trailing")),
            Some("/trailing/")
        );
    }

    #[test]
    fn lists_the_methods_of_a_path() {
        let table = table();
        assert_eq!(
            table.methods_for(&segments("/zones/abc")),
            [Method::Get, Method::Patch]
        );
        assert!(table.methods_for(&segments("/nothing")).is_empty());
        assert_eq!(table.len(), 11);
    }

    #[test]
    fn the_nearest_operations_share_most_literal_segments() {
        let table = table();
        let nearest: Vec<&str> = table
            .nearest(Method::Get, &segments("/zones/z/dns_record/r"), 2)
            .into_iter()
            .map(|op| op.path.as_str())
            .collect();
        assert_eq!(nearest[0], "/zones/{zone_id}/dns_records/{dns_record_id}");
        assert!(
            table
                .nearest(Method::Get, &segments("/zz/yy/qq/rr/ss/tt"), 3)
                .is_empty()
        );
    }

    #[test]
    fn matching_finds_every_route_on_a_large_spec() {
        let products = ["zones", "accounts", "user", "radar", "graphql"];
        let mut operations = Vec::new();
        for i in 0..400 {
            let product = products[i % products.len()];
            for method in [
                Method::Get,
                Method::Post,
                Method::Put,
                Method::Patch,
                Method::Delete,
            ] {
                operations.push(op(
                    method,
                    &format!("/{product}/{{id}}/thing_{i}/{{thing_id}}"),
                ));
            }
            operations.push(op(Method::Get, &format!("/{product}/{{id}}/thing_{i}")));
        }
        let table = RouteTable::new(&operations);
        assert_eq!(table.len(), 2400);
        let paths: Vec<String> = (0..400)
            .map(|i| format!("/{}/abc/thing_{i}/def", products[i % products.len()]))
            .collect();
        let mut found = 0;
        for round in 0..25 {
            for (i, path) in paths.iter().enumerate() {
                let method = Method::ALL[(i + round) % 5];
                if template(&table, method, &segments(path)).is_some() {
                    found += 1;
                }
            }
        }
        assert_eq!(found, 10_000);
    }
}
