//! The OpenAPI document checked in as `docs/openapi.json` is the one the code generates:
//! this test fails when they differ (run it with `NUBO_UPDATE_OPENAPI=1` to rewrite the
//! file after changing the API), and checks what every operation must declare.

use std::path::PathBuf;

fn checked_in() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn the_checked_in_document_is_the_generated_one() {
    let generated = nubo_frontend_rest::openapi_json();
    let path = checked_in();
    if std::env::var_os("NUBO_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("write docs/openapi.json");
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/openapi.json differs from the document the code generates; run \
         `NUBO_UPDATE_OPENAPI=1 cargo test -p nubo-frontend-rest --test openapi` and commit it"
    );
}

#[test]
fn every_operation_declares_its_errors_and_summary() {
    let doc: serde_json::Value =
        serde_json::from_str(&nubo_frontend_rest::openapi_json()).expect("the document is JSON");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 6, "{paths:?}");
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.contains_key("401"),
                "{method} {path} must declare 401 (every call is authenticated)"
            );
            assert!(
                responses.keys().any(|code| code.starts_with('2')),
                "{method} {path} declares no success"
            );
            assert!(
                op["summary"].is_string() || op["description"].is_string(),
                "{method} {path}"
            );
            for (code, response) in responses {
                if code.starts_with('4') {
                    assert!(
                        response["content"]["application/problem+json"].is_object(),
                        "{method} {path} {code} is not problem+json"
                    );
                }
            }
        }
    }
}

#[test]
fn header_parameters_are_never_null() {
    // A header has a value or is absent: a nullable schema makes clients send `null`.
    let doc: serde_json::Value =
        serde_json::from_str(&nubo_frontend_rest::openapi_json()).expect("the document is JSON");
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            for param in op["parameters"].as_array().into_iter().flatten() {
                if param["in"] != "header" {
                    continue;
                }
                let types = &param["schema"]["type"];
                let nullable = types == "null"
                    || types
                        .as_array()
                        .is_some_and(|t| t.iter().any(|t| t == "null"));
                assert!(!nullable, "{method} {path}: header {param} may be null");
            }
        }
    }
}

/// The schema `value` is or refers to.
fn resolve<'a>(doc: &'a serde_json::Value, value: &'a serde_json::Value) -> &'a serde_json::Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().expect("a name");
            &doc["components"]["schemas"][name]
        }
        None => value,
    }
}

/// Every object schema with properties within `schema` closes them, as the request types
/// refuse unknown members (`deny_unknown_fields`).
fn assert_closed(doc: &serde_json::Value, schema: &serde_json::Value, at: &str) {
    let schema = resolve(doc, schema);
    if schema["properties"].is_object() {
        assert_eq!(
            schema["additionalProperties"],
            serde_json::Value::Bool(false),
            "{at}: the schema lets members in that the body refuses: {schema}"
        );
        for (name, property) in schema["properties"].as_object().expect("properties") {
            assert_closed(doc, property, &format!("{at}.{name}"));
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for (i, item) in schema[key].as_array().into_iter().flatten().enumerate() {
            assert_closed(doc, item, &format!("{at}/{key}[{i}]"));
        }
    }
}

#[test]
fn request_bodies_refuse_unknown_members_as_the_server_does() {
    let doc: serde_json::Value =
        serde_json::from_str(&nubo_frontend_rest::openapi_json()).expect("the document is JSON");
    let mut bodies = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let content = op["requestBody"]["content"]["application/json"]["schema"].clone();
            if content.is_null() {
                continue;
            }
            bodies += 1;
            assert_closed(&doc, &content, &format!("{method} {path}"));
        }
    }
    assert!(bodies >= 4, "{bodies}");
}
