//! `Spec::outline` and `Spec::operation`: one operation compactly, by template or concrete
//! path, and the nearest operations when a method and path name none.

use codemode_spec::{Method, Outline};

use crate::{load, shared_cloudflare_spec};

/// The characters an outline takes as the JSON agent code receives.
fn size(outline: &Outline) -> usize {
    serde_json::to_string(outline)
        .expect("outlines serialise")
        .chars()
        .count()
}

#[test]
fn a_dns_record_create_fits_in_two_thousand_characters_without_read_only_fields() {
    let spec = shared_cloudflare_spec();
    let outline = spec
        .outline(Method::Post, "/zones/{zone_id}/dns_records")
        .expect("the operation exists");
    let json = serde_json::to_string(&outline).expect("outlines serialise");
    assert!(size(&outline) < 2_000, "{} chars: {json}", size(&outline));
    let body = outline.body.as_deref().expect("a body");
    assert!(body.contains("/* one of 20 shapes */"), "{body}");
    assert!(body.contains("type: \"A\" | \"AAAA\""), "{body}");
    assert!(body.contains("name: string;"), "name is required: {body}");
    for read_only in ["created_on", "modified_on", "proxiable", "meta"] {
        assert!(
            !body.contains(read_only),
            "{read_only} is read-only: {body}"
        );
    }
    assert!(body.contains("ttl?: "), "ttl is optional: {body}");
    let zone = &outline.parameters[0];
    assert_eq!(
        (zone.name.as_str(), zone.location.as_str(), zone.required),
        ("zone_id", "path", true)
    );
    assert!(
        outline
            .response
            .as_deref()
            .is_some_and(|r| r.contains("success"))
    );
}

#[test]
fn concrete_paths_and_query_strings_find_their_template() {
    let spec = shared_cloudflare_spec();
    let outline = spec
        .outline(
            Method::Get,
            "/zones/023e105f4ecef8ad9ca31a8372d0c353/dns_records?type=A",
        )
        .expect("the concrete path matches");
    assert_eq!(outline.path, "/zones/{zone_id}/dns_records");
    assert_eq!(outline.summary, "List DNS Records");
    let kind = outline
        .parameters
        .iter()
        .find(|p| p.name == "type")
        .expect("a type filter");
    assert_eq!((kind.location.as_str(), kind.required), ("query", false));
    assert!(kind.ty.contains("\"CNAME\""), "{}", kind.ty);
}

#[test]
fn an_unknown_operation_names_the_nearest_ones() {
    let spec = shared_cloudflare_spec();
    let error = spec
        .operation(Method::Post, "/zones/abc/dns_record")
        .expect_err("singular is not a path of the spec");
    assert_eq!(error.nearest[0], "POST /zones/{zone_id}/dns_records");
    let message = error.to_string();
    assert!(
        message
            .starts_with("POST /zones/abc/dns_record is not an operation of this API; the nearest"),
        "{message}"
    );
    let error = spec
        .operation(Method::Delete, "/zones")
        .expect_err("zones cannot be deleted as a collection");
    assert!(error.nearest.contains(&"GET /zones".to_string()), "{error}");
}

#[test]
fn the_five_largest_cloudflare_operations_stay_compact() {
    let spec = shared_cloudflare_spec();
    let mut sizes: Vec<(usize, String)> = spec
        .operations()
        .iter()
        .map(|op| {
            let paths = spec.view().get("paths").expect("paths");
            let full = serde_json::to_string(
                paths
                    .get(&op.path)
                    .and_then(|item| item.get(op.method.openapi_key()))
                    .expect("in the view")
                    .as_ref(),
            )
            .expect("serialises")
            .len();
            (full, format!("{} {}", op.method, op.path))
        })
        .collect();
    sizes.sort_by_key(|(full, _)| std::cmp::Reverse(*full));
    for (full, name) in sizes.iter().take(5) {
        let (method, path) = name.split_once(' ').expect("METHOD /path");
        let outline = spec
            .outline(method.parse().expect("a method"), path)
            .expect("the operation exists");
        println!(
            "{name}: {full} chars in the view, {} as an outline",
            size(&outline)
        );
        assert!(size(&outline) < 4_000, "{name}: {} chars", size(&outline));
    }
}

#[test]
fn bodies_merge_all_of_drop_read_only_fields_and_cut_deep_levels() {
    let spec = load(
        r##"{"openapi": "3.0.3", "paths": {"/things": {"post": {
            "summary": "Create a thing",
            "requestBody": {"content": {"application/json": {"schema": {
                "allOf": [
                    {"$ref": "#/components/schemas/Base"},
                    {"type": "object", "required": ["name", "id"], "properties": {
                        "name": {"type": "string"},
                        "kind": {"type": "string", "enum": ["a", "b"]},
                        "deep": {"type": "object", "properties": {"a": {"type": "object",
                            "properties": {"b": {"type": "object", "properties": {"c": {
                                "type": "object", "properties": {"d": {"type": "object",
                                "properties": {"e": {"type": "object", "properties": {
                                "f": {"type": "string"}}}}}}}}}}}}},
                        "tags": {"type": "array", "items": {"type": "string"}, "nullable": true}
                    }}
                ]}}}},
            "responses": {"201": {"content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/Base"}}}}}
        }}},
        "components": {"schemas": {"Base": {"type": "object", "properties": {
            "id": {"type": "string", "readOnly": true},
            "secret": {"type": "string", "writeOnly": true}
        }}}}}"##,
    );
    let outline = spec
        .outline(Method::Post, "/things")
        .expect("the operation");
    let body = outline.body.expect("a body");
    assert!(!body.contains("id"), "id is read-only: {body}");
    assert!(body.contains("secret?: string;"), "{body}");
    assert!(body.contains("name: string;"), "{body}");
    assert!(body.contains("kind?: \"a\" | \"b\";"), "{body}");
    assert!(body.contains("tags?: string[] | null;"), "{body}");
    assert!(body.contains("{ … }"), "depth is bounded: {body}");
    let response = outline.response.expect("a response");
    assert_eq!(response, "{ id?: string; }");
}
