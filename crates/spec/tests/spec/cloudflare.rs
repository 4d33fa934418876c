//! The shared Cloudflare spec (August 2024): 1,533 operations, 11,808 `$ref`s and a single
//! true reference cycle.

use crate::{at, shared_cloudflare_spec};

#[test]
fn the_cloudflare_spec_resolves_with_exactly_one_cut() {
    let spec = shared_cloudflare_spec();
    let stats = spec.stats();
    assert_eq!(stats.openapi, "3.0.3");
    assert_eq!(stats.operations, 1_533);
    assert_eq!(spec.operations().len(), 1_533);
    assert_eq!(stats.paths, 965);
    assert_eq!(stats.refs, 11_808);
    assert_eq!(
        stats.cycles,
        vec![vec![
            "#/components/schemas/request-tracer_trace".to_string()
        ]]
    );
    assert_eq!(stats.circular_markers, 1);
    assert_eq!(stats.circular_marker_occurrences, 1);
    let trace = at(
        spec.view(),
        &[
            "paths",
            "/accounts/{account_id}/request-tracer/trace",
            "post",
            "responses",
            "200",
            "content",
            "application/json",
            "schema",
            "allOf",
            "1",
            "properties",
            "result",
            "properties",
            "trace",
            "items",
            "properties",
            "trace",
        ],
    );
    assert_eq!(
        trace.circular_target(),
        Some("#/components/schemas/request-tracer_trace")
    );
}

#[test]
fn the_cloudflare_products_come_most_frequent_first() {
    let spec = shared_cloudflare_spec();
    let products = spec.products();
    assert_eq!(spec.stats().products, products.len());
    assert_eq!(
        (products[0].name.as_str(), products[0].operations),
        ("radar", 198)
    );
    assert_eq!(
        (products[1].name.as_str(), products[1].operations),
        ("access", 116)
    );
    assert!(
        products
            .windows(2)
            .all(|pair| pair[0].operations > pair[1].operations
                || (pair[0].operations == pair[1].operations && pair[0].name < pair[1].name)),
        "products are sorted by count, then name"
    );
    assert_eq!(products.iter().map(|p| p.operations).sum::<usize>(), 1_533);
    assert!(
        spec.operations()
            .iter()
            .all(|op| op.tags.first().map(String::as_str) == Some(op.product()))
    );
    let zones = spec
        .operations()
        .iter()
        .find(|op| op.path == "/zones/{zone_id}/dns_records")
        .expect("dns records");
    assert_eq!(zones.product(), "dns_records");
}

#[test]
fn the_cloudflare_view_is_shared_not_copied() {
    let spec = shared_cloudflare_spec();
    let stats = spec.stats();
    assert!(stats.shared_nodes > 1_000, "{stats}");
    assert!(stats.expanded_nodes > 4 * stats.nodes as u64, "{stats}");
    let text = serde_json::to_string(spec.view().as_ref()).expect("the view serialises");
    assert_eq!(stats.resolved_bytes, text.len() as u64);
}
