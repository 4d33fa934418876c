//! The view agent code reads: which operations appear, their fields and order, parameter
//! merging, product tags, the operation list and the products.

use codemode_spec::{Method, Node, Operation, Product, Spec};
use serde_json::json;

use crate::load;

/// The view node of `method path`.
fn operation<'a>(spec: &'a Spec, path: &str, method: &str) -> &'a Node {
    spec.view()
        .get("paths")
        .and_then(|paths| paths.get(path))
        .and_then(|item| item.get(method))
        .unwrap_or_else(|| panic!("no {method} {path} in the view"))
}

fn keys(node: &Node) -> Vec<&str> {
    node.as_object()
        .expect("an object")
        .iter()
        .map(|(key, _)| key.as_ref())
        .collect()
}

const DNS: &str = r##"
openapi: 3.0.3
info:
  title: DNS API
  version: "4"
paths:
  /zones/{zone_id}/dns_records:
    summary: path item summaries are not part of the view
    parameters:
      - $ref: "#/components/parameters/zone_id"
      - {name: page, in: query, description: Page number, schema: {type: integer}}
    get:
      x-internal: dropped
      responses:
        200: {description: OK}
      security: [{api_token: []}]
      tags: [DNS Records, dns_records]
      operationId: dns-records-list
      parameters:
        - {name: page, in: query, description: Page to show, schema: {type: integer, minimum: 1}}
        - {name: per_page, in: query, schema: {type: integer}}
      description: Lists records.
      summary: List DNS records
    post:
      operationId: dns-records-create
      requestBody:
        content:
          application/json:
            schema: {type: object}
      responses:
        "200": {description: Created}
    head:
      responses:
        "200": {description: HEAD is not in the view}
    options:
      responses:
        "200": {description: nor is OPTIONS}
  /only/head:
    head:
      responses:
        "200": {description: a path without view methods is left out}
  /user/tokens:
    delete:
      tags: [user]
      responses:
        "204": {description: Deleted}
    put:
      responses:
        "200": {description: Replaced}
    patch:
      responses:
        "200": {description: Edited}
  /accounts:
    get:
      operationId: accounts-list
      responses:
        "200": {description: OK}
components:
  parameters:
    zone_id: {name: zone_id, in: path, required: true, schema: {type: string}}
"##;

#[test]
fn only_the_five_methods_appear_and_paths_without_them_are_left_out() {
    let spec = load(DNS);
    let paths = spec.view().get("paths").expect("paths");
    assert_eq!(
        keys(paths),
        ["/zones/{zone_id}/dns_records", "/user/tokens", "/accounts"]
    );
    assert_eq!(
        keys(paths.get("/zones/{zone_id}/dns_records").expect("dns")),
        ["get", "post"]
    );
    assert_eq!(
        keys(paths.get("/user/tokens").expect("tokens")),
        ["put", "patch", "delete"]
    );
    assert_eq!(keys(spec.view()), ["paths"]);
    assert_eq!(spec.stats().paths, 3);
    assert_eq!(spec.stats().operations, 6);
}

#[test]
fn an_operation_keeps_only_the_view_fields_in_view_order() {
    let spec = load(DNS);
    assert_eq!(
        keys(operation(&spec, "/zones/{zone_id}/dns_records", "get")),
        [
            "summary",
            "description",
            "operationId",
            "tags",
            "parameters",
            "responses"
        ]
    );
    assert_eq!(
        keys(operation(&spec, "/zones/{zone_id}/dns_records", "post")),
        [
            "operationId",
            "tags",
            "parameters",
            "requestBody",
            "responses"
        ]
    );
    assert_eq!(
        keys(operation(&spec, "/accounts", "get")),
        ["operationId", "tags", "responses"]
    );
}

#[test]
fn path_level_parameters_are_merged_and_overridden_by_name_and_location() {
    let spec = load(DNS);
    let parameters = |method| {
        operation(&spec, "/zones/{zone_id}/dns_records", method)
            .get("parameters")
            .expect("parameters")
            .to_json()
    };
    let zone_id =
        json!({"name": "zone_id", "in": "path", "required": true, "schema": {"type": "string"}});
    assert_eq!(
        parameters("get"),
        json!([
            zone_id,
            {"name": "page", "in": "query", "description": "Page to show", "schema": {"type": "integer", "minimum": 1}},
            {"name": "per_page", "in": "query", "schema": {"type": "integer"}}
        ])
    );
    assert_eq!(
        parameters("post"),
        json!([
            zone_id,
            {"name": "page", "in": "query", "description": "Page number", "schema": {"type": "integer"}}
        ])
    );
}

#[test]
fn the_product_tag_comes_first_and_is_not_repeated() {
    let spec = load(DNS);
    let tags = |path: &str, method: Method| {
        spec.operations()
            .iter()
            .find(|op| op.path == path && op.method == method)
            .map(|op| op.tags.clone())
            .expect("operation")
    };
    assert_eq!(
        tags("/zones/{zone_id}/dns_records", Method::Get),
        ["dns_records", "DNS Records"]
    );
    assert_eq!(
        tags("/zones/{zone_id}/dns_records", Method::Post),
        ["dns_records"]
    );
    assert_eq!(tags("/user/tokens", Method::Delete), ["user"]);
    assert_eq!(tags("/accounts", Method::Get), ["accounts"]);
    let view_tags = operation(&spec, "/zones/{zone_id}/dns_records", "get")
        .get("tags")
        .expect("tags")
        .to_json();
    assert_eq!(view_tags, json!(["dns_records", "DNS Records"]));
}

#[test]
fn the_operation_list_follows_the_view() {
    let spec = load(DNS);
    let listed: Vec<(Method, &str, Option<&str>)> = spec
        .operations()
        .iter()
        .map(|op: &Operation| (op.method, op.path.as_str(), op.operation_id.as_deref()))
        .collect();
    assert_eq!(
        listed,
        [
            (
                Method::Get,
                "/zones/{zone_id}/dns_records",
                Some("dns-records-list")
            ),
            (
                Method::Post,
                "/zones/{zone_id}/dns_records",
                Some("dns-records-create")
            ),
            (Method::Put, "/user/tokens", None),
            (Method::Patch, "/user/tokens", None),
            (Method::Delete, "/user/tokens", None),
            (Method::Get, "/accounts", Some("accounts-list")),
        ]
    );
    assert_eq!(spec.title(), "DNS API");
}

#[test]
fn products_are_ordered_by_operation_count_then_name() {
    let spec = load(DNS);
    let product = |name: &str, operations| Product {
        name: name.to_string(),
        operations,
    };
    assert_eq!(
        spec.products(),
        [
            product("user", 3),
            product("dns_records", 2),
            product("accounts", 1)
        ]
    );
    assert_eq!(spec.stats().products, 3);
}

#[test]
fn a_path_item_ref_is_followed() {
    let spec = load(
        r##"
openapi: 3.1.0
info: {title: Shared items, version: "1"}
paths:
  /zones/{zone_id}/settings:
    $ref: "#/components/pathItems/Settings"
components:
  pathItems:
    Settings:
      parameters:
        - {name: zone_id, in: path, required: true}
      get:
        responses:
          "200": {description: OK}
"##,
    );
    assert_eq!(
        operation(&spec, "/zones/{zone_id}/settings", "get").to_json(),
        json!({
            "tags": ["settings"],
            "parameters": [{"name": "zone_id", "in": "path", "required": true}],
            "responses": {"200": {"description": "OK"}}
        })
    );
}

#[test]
fn an_untitled_spec_is_called_api() {
    let spec = load(r#"{"openapi": "3.0.0", "paths": {}}"#);
    assert_eq!(spec.title(), "API");
    assert!(spec.operations().is_empty());
    assert_eq!(spec.view().to_json(), json!({"paths": {}}));
}

#[test]
fn the_stats_report_reads_in_a_few_lines() {
    let report = load(DNS).stats().to_string();
    assert!(
        report.starts_with("OpenAPI 3.0.3: 6 operations on 3 paths, 3 products"),
        "{report}"
    );
    assert!(report.contains("reference cycles: 0"), "{report}");
    assert!(report.lines().count() <= 6, "{report}");
}

#[test]
fn a_spec_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Spec>();
    assert_send_sync::<Node>();
}
