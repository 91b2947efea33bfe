//! The Argo CD health check shipped in docs/gitops, run in a real Lua interpreter against
//! Dumps in every state.

use mlua::{Lua, LuaSerdeExt, Table};
use serde_json::{Value, json};

fn health(dump: Value) -> (String, String) {
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/gitops/argocd-health-dump.lua"
    ))
    .unwrap();
    let lua = Lua::new();
    lua.globals()
        .set("obj", lua.to_value(&dump).unwrap())
        .unwrap();
    let result: Table = lua.load(&script).eval().unwrap();
    (
        result.get("status").unwrap(),
        result.get("message").unwrap(),
    )
}

fn dump(generation: i64, status: Value) -> Value {
    json!({
        "apiVersion": "dumplens.io/v1alpha1", "kind": "Dump",
        "metadata": {"name": "d", "generation": generation},
        "spec": {"source": {"url": {"url": "https://example.com/d.dump"}}},
        "status": status,
    })
}

fn condition(kind: &str, status: &str, message: &str) -> Value {
    json!({"type": kind, "status": status, "reason": "R", "message": message,
           "lastTransitionTime": "2026-12-04T00:00:00Z"})
}

#[test]
fn ready_is_healthy() {
    let (status, message) = health(dump(
        1,
        json!({
            "phase": "Ready", "observedGeneration": 1,
            "conditions": [condition("Ready", "True", "21 tables restored"), condition("Reconciling", "False", "")],
        }),
    ));
    assert_eq!(
        (status.as_str(), message.as_str()),
        ("Healthy", "21 tables restored")
    );
}

#[test]
fn restoring_is_progressing() {
    let (status, message) = health(dump(
        1,
        json!({
            "phase": "Restoring", "observedGeneration": 1, "message": "loading public.rental",
            "conditions": [condition("Ready", "False", "restoring"), condition("Reconciling", "True", "restoring")],
        }),
    ));
    assert_eq!(
        (status.as_str(), message.as_str()),
        ("Progressing", "loading public.rental")
    );
}

#[test]
fn failed_is_degraded_with_the_reason() {
    let (status, message) = health(dump(
        1,
        json!({
            "phase": "Failed", "observedGeneration": 1,
            "conditions": [condition("Ready", "False", "failed"),
                           condition("Stalled", "True", "the dump is damaged: the file ends too early")],
        }),
    ));
    assert_eq!(status, "Degraded");
    assert_eq!(message, "the dump is damaged: the file ends too early");
}

#[test]
fn expired_is_suspended() {
    let (status, _) = health(dump(
        1,
        json!({
            "phase": "Expired", "observedGeneration": 1,
            "conditions": [condition("Ready", "False", "expired")],
        }),
    ));
    assert_eq!(status, "Suspended");
}

#[test]
fn deleting_is_progressing() {
    let mut deleting = dump(
        1,
        json!({"phase": "Ready", "observedGeneration": 1,
        "conditions": [condition("Ready", "True", "ok")]}),
    );
    deleting["metadata"]["deletionTimestamp"] = json!("2026-12-04T00:00:00Z");
    let (status, message) = health(deleting);
    assert_eq!(status, "Progressing");
    assert!(message.starts_with("Deleting"));
}

#[test]
fn a_status_for_an_older_generation_or_none_is_progressing() {
    let (stale, _) = health(dump(
        2,
        json!({"phase": "Ready", "observedGeneration": 1,
        "conditions": [condition("Ready", "True", "ok")]}),
    ));
    assert_eq!(stale, "Progressing");
    let mut fresh = dump(1, json!(null));
    fresh.as_object_mut().unwrap().remove("status");
    assert_eq!(health(fresh).0, "Progressing");
}
