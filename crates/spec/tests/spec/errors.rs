//! Invalid documents: each error names the problem and where it is, and no input panics.

use codemode_spec::{Spec, SpecError};

fn error_of(text: &str) -> SpecError {
    Spec::from_bytes(text.as_bytes()).expect_err("the spec should be rejected")
}

#[test]
fn bad_json_reports_line_and_column() {
    let error = error_of("{\n  \"openapi\": \"3.0.0\",\n  \"paths\": {,}\n}");
    let SpecError::Json(json) = &error else {
        panic!("expected a JSON error, got {error}");
    };
    assert_eq!((json.line(), json.column()), (3, 13));
    assert!(error.to_string().contains("line 3 column 13"), "{error}");
}

#[test]
fn bad_yaml_reports_its_location() {
    let error = error_of("openapi: 3.0.0\npaths:\n  /x: [unclosed\n");
    let SpecError::Yaml(yaml) = &error else {
        panic!("expected a YAML error, got {error}");
    };
    assert!(yaml.location().is_some());
    assert!(error.to_string().contains("line"), "{error}");
}

#[test]
fn a_ref_to_nowhere_names_the_ref_and_where_it_was_found() {
    let error = error_of(
        r##"{"openapi": "3.0.0", "paths": {"/zones": {"get": {"responses": {"200": {
            "description": "ok",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Missing"}}}
        }}}}}}"##,
    );
    let SpecError::RefNotFound {
        reference,
        location,
    } = &error
    else {
        panic!("expected RefNotFound, got {error}");
    };
    assert_eq!(reference, "#/components/schemas/Missing");
    assert_eq!(
        location,
        "#/paths/~1zones/get/responses/200/content/application~1json/schema"
    );
    assert!(
        error.to_string().contains("#/components/schemas/Missing"),
        "{error}"
    );
}

#[test]
fn a_ref_to_nowhere_inside_a_component_is_located_in_that_component() {
    let error = error_of(
        r##"{"openapi": "3.0.0", "paths": {"/x": {"get": {"responses": {"200": {"$ref": "#/components/responses/Ok"}}}}},
        "components": {"responses": {"Ok": {"description": "ok", "content": {"a/b": {"schema": {"$ref": "#/components/schemas/Gone"}}}}}}}"##,
    );
    let SpecError::RefNotFound { location, .. } = &error else {
        panic!("expected RefNotFound, got {error}");
    };
    assert_eq!(location, "#/components/responses/Ok/content/a~1b/schema");
}

#[test]
fn refs_that_are_not_internal_pointers_are_refused() {
    let external = error_of(
        r#"{"openapi": "3.0.0", "paths": {"/x": {"get": {"responses": {"200": {"$ref": "common.yaml#/Ok"}}}}}}"#,
    );
    assert!(
        matches!(&external, SpecError::ExternalRef { reference, location }
            if reference == "common.yaml#/Ok" && location == "#/paths/~1x/get/responses/200"),
        "{external}"
    );
    let anchor = error_of(
        r##"{"openapi": "3.0.0", "paths": {"/x": {"get": {"responses": {"200": {"$ref": "#Ok"}}}}}}"##,
    );
    assert!(matches!(anchor, SpecError::InvalidRef { .. }), "{anchor}");
}

#[test]
fn swagger_2_is_rejected_by_name() {
    let error = error_of("swagger: \"2.0\"\ninfo: {title: Old, version: \"1\"}\npaths: {}\n");
    assert!(
        matches!(&error, SpecError::Swagger { version } if version == "2.0"),
        "{error}"
    );
    assert!(
        error.to_string().contains("OpenAPI 3.0.x and 3.1.x"),
        "{error}"
    );
}

#[test]
fn only_versions_3_0_and_3_1_are_accepted() {
    for version in ["3.0.0", "3.0.3", "3.1.0", "3.1.1"] {
        let text = format!("openapi: {version}\ninfo: {{title: T, version: '1'}}\npaths: {{}}\n");
        let spec =
            Spec::from_bytes(text.as_bytes()).unwrap_or_else(|error| panic!("{version}: {error}"));
        assert_eq!(spec.stats().openapi, version);
    }
    for version in ["2.0", "3.2.0", "3.10.0", "4.0.0"] {
        let error = error_of(&format!("openapi: \"{version}\"\npaths: {{}}\n"));
        assert!(
            matches!(error, SpecError::UnsupportedVersion { .. }),
            "{version}: {error}"
        );
    }
    let numeric = error_of("openapi: 3.0\npaths: {}\n");
    assert!(
        matches!(numeric, SpecError::InvalidField { .. }),
        "{numeric}"
    );
}

#[test]
fn missing_top_level_fields_are_named() {
    let no_openapi = error_of("info: {title: T}\npaths: {}\n");
    assert!(
        matches!(no_openapi, SpecError::MissingField { field: "openapi" }),
        "{no_openapi}"
    );
    let no_paths = error_of("openapi: 3.1.0\ninfo: {title: T}\n");
    assert!(
        matches!(no_paths, SpecError::MissingField { field: "paths" }),
        "{no_paths}"
    );
    let not_object = error_of("[1, 2]");
    assert!(
        matches!(not_object, SpecError::NotAnObject { found: "an array" }),
        "{not_object}"
    );
}

#[test]
fn fields_of_the_wrong_type_are_located() {
    let cases = [
        (r#"{"openapi": "3.0.0", "paths": []}"#, "#/paths"),
        (
            r#"{"openapi": "3.0.0", "paths": {"/x": "nope"}}"#,
            "#/paths/~1x",
        ),
        (
            r#"{"openapi": "3.0.0", "paths": {"/x": {"get": 1}}}"#,
            "#/paths/~1x/get",
        ),
        (
            r#"{"openapi": "3.0.0", "paths": {"/x": {"get": {"parameters": {}}}}}"#,
            "#/paths/~1x/get/parameters",
        ),
        (
            r#"{"openapi": "3.0.0", "paths": {"/x": {"parameters": 3, "get": {}}}}"#,
            "#/paths/~1x/parameters",
        ),
        (
            r#"{"openapi": "3.0.0", "paths": {"/x": {"get": {"tags": ["a", 1]}}}}"#,
            "#/paths/~1x/get/tags/1",
        ),
    ];
    for (text, expected) in cases {
        let error = error_of(text);
        assert!(
            matches!(&error, SpecError::InvalidField { location, .. } if location == expected),
            "{text}: {error}"
        );
    }
}

#[test]
fn unquoted_yaml_status_codes_become_string_keys() {
    let spec = Spec::from_bytes(b"openapi: 3.0.0\npaths:\n  /x:\n    get:\n      responses:\n        200: {description: OK}\n")
        .expect("YAML with numeric keys loads");
    let responses = spec
        .view()
        .get("paths")
        .and_then(|p| p.get("/x"))
        .and_then(|p| p.get("get"))
        .and_then(|p| p.get("responses"))
        .expect("responses");
    assert!(responses.get("200").is_some());
}

/// A small deterministic generator, so the corrupted inputs are the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

/// Bytes that change a document's structure when they land in it.
const NOISE: &[u8] = b"{}[]\":,~/#$%01 \nab";

#[test]
fn truncated_and_corrupted_documents_fail_without_panicking() {
    let json = r##"{"openapi": "3.1.0", "info": {"title": "T"}, "paths": {"/a/{id}": {"parameters": [{"$ref": "#/components/parameters/id"}],
        "get": {"tags": ["t"], "responses": {"200": {"$ref": "#/components/responses/Ok", "description": "d"}}}}},
        "components": {"parameters": {"id": {"name": "id", "in": "path"}}, "responses": {"Ok": {"description": "ok",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}}},
        "schemas": {"Node": {"properties": {"next": {"$ref": "#/components/schemas/Node"}}}}}}"##;
    assert!(Spec::from_bytes(json.as_bytes()).is_ok());
    let yaml = "openapi: 3.0.0\npaths:\n  /a:\n    get:\n      responses:\n        '200': {$ref: '#/components/responses/Ok'}\ncomponents:\n  responses:\n    Ok: {description: ok}\n";
    assert!(Spec::from_bytes(yaml.as_bytes()).is_ok());
    let mut random = Lcg(7);
    for text in [json, yaml] {
        let bytes = text.as_bytes();
        for end in 0..bytes.len() {
            let _ = Spec::from_bytes(&bytes[..end]);
        }
        for _ in 0..2_000 {
            let mut corrupted = bytes.to_vec();
            for _ in 0..3 {
                let at = random.next() % corrupted.len();
                corrupted[at] = NOISE[random.next() % NOISE.len()];
            }
            let _ = Spec::from_bytes(&corrupted);
        }
    }
}
