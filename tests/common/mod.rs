//! What the API tests share: checking responses against the server's own OpenAPI document.

use serde_json::Value;

/// Whether `path` is an instance of `template` (`{name}` standing for one segment).
fn matches(template: &str, path: &str) -> bool {
    let (template, path): (Vec<&str>, Vec<&str>) =
        (template.split('/').collect(), path.split('/').collect());
    template.len() == path.len()
        && template
            .iter()
            .zip(&path)
            .all(|(t, p)| t == p || (t.starts_with('{') && !p.is_empty()))
}

/// Checks a response against the schema `document` gives for its path, status and content
/// type (paths the document does not describe, like unknown ones, only as problems).
pub fn conforms(
    document: &Value,
    method: &str,
    path: &str,
    status: u16,
    content_type: &str,
    body: &Value,
) {
    let path = path.split('?').next().unwrap();
    let operation = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .find_map(|(template, item)| matches(template, path).then_some(&item[method]));
    let Some(operation) = operation else {
        assert!(status >= 400, "{path} is not in the OpenAPI document");
        assert_eq!(content_type, "application/problem+json", "{path}");
        return;
    };
    let media = content_type.split(';').next().unwrap();
    let schema = &operation["responses"][status.to_string()]["content"][media]["schema"];
    assert!(
        !schema.is_null(),
        "{path}: no {status} {media} response in the document"
    );
    let errors = schema_errors(document, schema, body);
    assert!(errors.is_empty(), "{path} {status}: {errors:?}");
}

/// What is wrong with `body` as an instance of `schema` (whose references point into the
/// document's components).
pub fn schema_errors(document: &Value, schema: &Value, body: &Value) -> Vec<String> {
    let mut root = schema.clone();
    root["components"] = document["components"].clone();
    let validator = jsonschema::validator_for(&root).unwrap();
    validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}
