//! `$ref` resolution: path-scoped expansion, sharing, cycle cutting, sibling merging, pointer
//! escapes and the nesting limit.

use std::sync::Arc;

use codemode_spec::{Node, Spec, SpecError};
use serde_json::json;

use crate::{at, load};

/// The schema of the 200 JSON response of `method path`.
fn response_schema<'a>(spec: &'a Spec, path: &str, method: &str) -> &'a Arc<Node> {
    at(
        spec.view(),
        &[
            "paths",
            path,
            method,
            "responses",
            "200",
            "content",
            "application/json",
            "schema",
        ],
    )
}

const REUSED: &str = r##"
openapi: 3.0.3
info: {title: Zones, version: "1"}
paths:
  /zones:
    get:
      responses:
        "200":
          description: list
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/Zone"}}
  /zones/{zone_id}:
    get:
      responses:
        "200":
          description: one
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Zone"}
    patch:
      responses:
        "200":
          description: edited
          content:
            application/json:
              schema:
                $ref: "#/components/schemas/Zone"
                description: The zone after the edit.
                x-note: added by the operation
components:
  schemas:
    Zone:
      type: object
      description: A zone.
      properties:
        id: {type: string}
        plan: {$ref: "#/components/schemas/Plan"}
    Plan:
      type: object
      properties:
        name: {type: string}
"##;

#[test]
fn a_reused_schema_appears_in_full_at_every_place_and_is_held_once() {
    let spec = load(REUSED);
    let zone = json!({
        "type": "object",
        "description": "A zone.",
        "properties": {
            "id": {"type": "string"},
            "plan": {"type": "object", "properties": {"name": {"type": "string"}}}
        }
    });
    let in_list = at(response_schema(&spec, "/zones", "get"), &["items"]);
    let single = response_schema(&spec, "/zones/{zone_id}", "get");
    assert_eq!(in_list.to_json(), zone);
    assert_eq!(single.to_json(), zone);
    assert!(Arc::ptr_eq(in_list, single), "both places share one node");
    assert_eq!(spec.stats().circular_markers, 0);
    assert!(spec.stats().cycles.is_empty());
}

#[test]
fn sibling_keys_next_to_a_ref_are_merged_over_the_target() {
    let spec = load(REUSED);
    let edited = response_schema(&spec, "/zones/{zone_id}", "patch");
    assert_eq!(
        edited.to_json(),
        json!({
            "type": "object",
            "description": "The zone after the edit.",
            "properties": {
                "id": {"type": "string"},
                "plan": {"type": "object", "properties": {"name": {"type": "string"}}}
            },
            "x-note": "added by the operation"
        })
    );
    let original = response_schema(&spec, "/zones/{zone_id}", "get");
    assert!(Arc::ptr_eq(
        at(edited, &["properties"]),
        at(original, &["properties"])
    ));
    assert_eq!(
        original.get("description").and_then(|d| d.as_str()),
        Some("A zone.")
    );
}

#[test]
fn resolved_bytes_match_the_serialised_view() {
    let spec = load(REUSED);
    let text = serde_json::to_string(spec.view().as_ref()).expect("the view serialises");
    assert_eq!(spec.stats().resolved_bytes, text.len() as u64);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text).ok(),
        Some(spec.view().to_json())
    );
}

#[test]
fn resolved_bytes_count_escapes_numbers_and_unicode() {
    let spec = load(
        r#"{"openapi": "3.1.0", "paths": {"/x": {"get": {
            "description": "quote \" backslash \\ newline \n tab \t bell \u0007 é ✓ /",
            "responses": {"200": {"description": "ok", "x-numbers": [0, -1, 1.5, 1e300, 0.011269427669584647, null, true, false]}}
        }}}}"#,
    );
    let text = serde_json::to_string(spec.view().as_ref()).expect("the view serialises");
    assert_eq!(spec.stats().resolved_bytes, text.len() as u64);
}

const SELF_CYCLE: &str = r##"
openapi: 3.1.0
info: {title: Trees, version: "1"}
paths:
  /trees:
    get:
      responses:
        "200":
          description: a tree
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Tree"}
  /forests:
    get:
      responses:
        "200":
          description: many trees
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/Tree"}}
components:
  schemas:
    Tree:
      type: object
      properties:
        label: {type: string}
        children: {type: array, items: {$ref: "#/components/schemas/Tree"}}
"##;

#[test]
fn a_self_reference_is_cut_with_the_exact_marker() {
    let spec = load(SELF_CYCLE);
    let tree = response_schema(&spec, "/trees", "get");
    assert_eq!(
        tree.to_json(),
        json!({
            "type": "object",
            "properties": {
                "label": {"type": "string"},
                "children": {"type": "array", "items": {"$circular": "#/components/schemas/Tree"}}
            }
        })
    );
    let in_forest = at(response_schema(&spec, "/forests", "get"), &["items"]);
    assert!(Arc::ptr_eq(tree, in_forest));
    let stats = spec.stats();
    assert_eq!(
        stats.cycles,
        vec![vec!["#/components/schemas/Tree".to_string()]]
    );
    assert_eq!(stats.circular_markers, 1, "one marker node, shared");
    assert_eq!(
        stats.circular_marker_occurrences, 2,
        "it appears under both operations"
    );
}

const MUTUAL_CYCLE: &str = r##"
openapi: 3.0.0
info: {title: People, version: "1"}
paths:
  /people:
    get:
      responses:
        "200":
          description: a person
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Person"}
  /pets:
    get:
      responses:
        "200":
          description: a pet
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Pet"}
components:
  schemas:
    Person:
      type: object
      properties:
        pet: {$ref: "#/components/schemas/Pet"}
    Pet:
      type: object
      properties:
        owner: {$ref: "#/components/schemas/Person"}
"##;

#[test]
fn a_mutual_cycle_is_cut_where_it_closes_whichever_end_it_is_entered_from() {
    let spec = load(MUTUAL_CYCLE);
    assert_eq!(
        response_schema(&spec, "/people", "get").to_json(),
        json!({
            "type": "object",
            "properties": {"pet": {
                "type": "object",
                "properties": {"owner": {"$circular": "#/components/schemas/Person"}}
            }}
        })
    );
    assert_eq!(
        response_schema(&spec, "/pets", "get").to_json(),
        json!({
            "type": "object",
            "properties": {"owner": {
                "type": "object",
                "properties": {"pet": {"$circular": "#/components/schemas/Pet"}}
            }}
        })
    );
    let stats = spec.stats();
    assert_eq!(
        stats.cycles,
        vec![vec![
            "#/components/schemas/Person".to_string(),
            "#/components/schemas/Pet".to_string()
        ]]
    );
    assert_eq!(stats.circular_markers, 2);
}

#[test]
fn a_shared_subtree_outside_the_cycle_stays_shared_inside_it() {
    let spec = load(
        r##"
openapi: 3.0.0
paths:
  /a:
    get:
      responses:
        "200": {description: a, content: {application/json: {schema: {$ref: "#/components/schemas/A"}}}}
  /b:
    get:
      responses:
        "200": {description: b, content: {application/json: {schema: {$ref: "#/components/schemas/B"}}}}
components:
  schemas:
    A: {properties: {b: {$ref: "#/components/schemas/B"}, id: {$ref: "#/components/schemas/Id"}}}
    B: {properties: {a: {$ref: "#/components/schemas/A"}, id: {$ref: "#/components/schemas/Id"}}}
    Id: {type: string, format: uuid}
"##,
    );
    let a = response_schema(&spec, "/a", "get");
    let b = response_schema(&spec, "/b", "get");
    let ids = [
        at(a, &["properties", "id"]),
        at(a, &["properties", "b", "properties", "id"]),
        at(b, &["properties", "id"]),
        at(b, &["properties", "a", "properties", "id"]),
    ];
    assert!(ids.iter().all(|id| Arc::ptr_eq(id, ids[0])));
    assert_eq!(
        ids[0].to_json(),
        json!({"type": "string", "format": "uuid"})
    );
}

#[test]
fn pointer_escapes_and_percent_encoding_are_decoded() {
    let spec = load(
        r##"{"openapi": "3.0.1", "paths": {"/x": {"get": {"responses": {
            "200": {"$ref": "#/components/responses/a~1b~0c"},
            "201": {"$ref": "#/components/responses/with%20space"},
            "202": {"$ref": "#/paths/~1x/get/responses/200"}
        }}}},
        "components": {"responses": {
            "a/b~c": {"description": "slash and tilde"},
            "with space": {"description": "percent"}
        }}}"##,
    );
    let responses = at(spec.view(), &["paths", "/x", "get", "responses"]);
    assert_eq!(
        responses.to_json(),
        json!({
            "200": {"description": "slash and tilde"},
            "201": {"description": "percent"},
            "202": {"description": "slash and tilde"}
        })
    );
}

/// A spec whose component `Level0` nests `levels` objects deep through a chain of `$ref`s.
fn chain(levels: usize, extra_use: &str) -> String {
    let mut schemas = String::new();
    for level in 0..levels {
        let next = level + 1;
        schemas.push_str(&format!(
            r##""Level{level}": {{"properties": {{"next": {{"$ref": "#/components/schemas/Level{next}"}}}}}},"##
        ));
    }
    schemas.push_str(&format!(r#""Level{levels}": {{"type": "string"}}"#));
    format!(
        r##"{{"openapi": "3.0.0", "paths": {{
            "/shallow": {{"get": {{"responses": {{"200": {{"$ref": "#/components/schemas/Level0"}}}}}}}}
            {extra_use}
        }}, "components": {{"schemas": {{{schemas}}}}}}}"##
    )
}

#[test]
fn resolution_deeper_than_the_limit_is_an_error_naming_where() {
    let error = Spec::from_bytes(chain(100, "").as_bytes()).expect_err("300 levels is too deep");
    let SpecError::TooDeep { location, limit } = &error else {
        panic!("expected TooDeep, got {error}");
    };
    assert_eq!(*limit, 256);
    assert!(
        location.starts_with("#/components/schemas/Level"),
        "{location}"
    );
    assert!(
        error.to_string().contains("more than 256 levels"),
        "{error}"
    );
}

#[test]
fn a_shared_subtree_reused_deeper_than_it_was_built_still_respects_the_limit() {
    assert!(
        Spec::from_bytes(chain(80, "").as_bytes()).is_ok(),
        "80 levels fit"
    );
    let nested = r##"{"properties": {"b": {"properties": {"c": {"properties": {"d": {"$ref": "#/components/schemas/Level0"}}}}}}}"##;
    let deeper = format!(
        r#", "/deeper": {{"get": {{"responses": {{"200": {{"content": {{"a": {{"schema": {nested}}}}}}}}}}}}}"#
    );
    let error =
        Spec::from_bytes(chain(80, &deeper).as_bytes()).expect_err("reused 10 levels deeper");
    assert!(matches!(error, SpecError::TooDeep { .. }), "{error}");
}

#[test]
fn a_long_chain_of_plain_refs_is_an_error_not_a_stack_overflow() {
    let mut schemas: Vec<String> = (0..100_000)
        .map(|i| format!(r##""S{i}": {{"$ref": "#/components/schemas/S{}"}}"##, i + 1))
        .collect();
    schemas.push(r#""S100000": {"type": "string"}"#.to_string());
    let text = format!(
        r##"{{"openapi": "3.0.0", "paths": {{"/x": {{"get": {{"responses": {{"200": {{"$ref": "#/components/schemas/S0"}}}}}}}}}}, "components": {{"schemas": {{{}}}}}}}"##,
        schemas.join(",")
    );
    let error = Spec::from_bytes(text.as_bytes()).expect_err("100,000 hops is too deep");
    assert!(matches!(error, SpecError::TooDeep { .. }), "{error}");
}

#[test]
fn deeply_nested_source_is_an_error_not_a_stack_overflow() {
    let json = format!(
        r#"{{"openapi": "3.0.0", "paths": {{}}, "x": {}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let error = Spec::from_bytes(json.as_bytes()).expect_err("too deep to parse");
    assert!(matches!(error, SpecError::Json(_)), "{error}");
    assert!(error.to_string().contains("recursion limit"), "{error}");

    // libyaml's time grows with the square of flow nesting, so YAML is tried less deep.
    let yaml = format!(
        "openapi: 3.0.0\npaths: {{}}\nx: {}{}\n",
        "[".repeat(2_000),
        "]".repeat(2_000)
    );
    let error = Spec::from_bytes(yaml.as_bytes()).expect_err("too deep to parse");
    assert!(matches!(error, SpecError::Yaml(_)), "{error}");
}

#[test]
fn densely_connected_cycles_stop_at_the_node_budget() {
    let members = 22;
    let schemas: Vec<String> = (0..members)
        .map(|i| {
            let properties: Vec<String> = (0..members)
                .filter(|&j| j != i)
                .map(|j| format!(r##""p{j}": {{"$ref": "#/components/schemas/S{j}"}}"##))
                .collect();
            format!(r#""S{i}": {{"properties": {{{}}}}}"#, properties.join(","))
        })
        .collect();
    let text = format!(
        r##"{{"openapi": "3.0.0", "paths": {{"/x": {{"get": {{"responses": {{"200": {{"$ref": "#/components/schemas/S0"}}}}}}}}}}, "components": {{"schemas": {{{}}}}}}}"##,
        schemas.join(",")
    );
    let error = Spec::from_bytes(text.as_bytes()).expect_err("a 22-schema clique expands too far");
    assert!(matches!(error, SpecError::TooLarge { .. }), "{error}");
}
