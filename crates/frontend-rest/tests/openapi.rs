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
