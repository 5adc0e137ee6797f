//! A record as an Elastic Common Schema document (`monitor --ecs`): the ECS fields Elastic,
//! Kibana and SIEM rules read (`@timestamp`, `event.*`, `source.*`/`destination.*`,
//! `client.*`/`server.*`, `network.*` with the Community ID, `rule.*` and `message` for a
//! finding), and the record itself, keys as in NDJSON, under `ctxscope.<record type>`, the
//! namespace ECS leaves to us. Every ECS field written here exists in ECS with the type
//! written (tests/monitor.rs checks the documents against ECS's field list).

use super::ndjson::Record;
use crate::model::FlowTuple;
use ctxscope_dissectors::Timestamp;
use serde_json::{Map, Value, json};

/// The ECS version the documents follow.
pub const ECS_VERSION: &str = "8.11.0";

/// `record` as an ECS document; `now` is its time when the record has none of its own, `tuple`
/// the connection a finding is on.
pub fn document(record: &Record, now: Timestamp, tuple: Option<&FlowTuple>) -> Value {
    let f = &record.fields;
    let mut doc = Map::new();
    let mut net = Map::new();
    let at = ["last", "ts", "start", "first"]
        .iter()
        .find_map(|k| f.get(*k).filter(|v| v.is_string()).cloned())
        .unwrap_or_else(|| now.to_string().into());
    doc.insert("@timestamp".into(), at);
    doc.insert("ecs".into(), json!({ "version": ECS_VERSION }));
    doc.insert(
        "observer".into(),
        json!({ "type": "sensor", "product": "ctxscope", "vendor": "ctxscope" }),
    );
    let (kind, types) = categorise(record);
    doc.insert(
        "event".into(),
        json!({
            "kind": kind,
            "category": ["network"],
            "type": types,
            "dataset": format!("ctxscope.{}", record.kind),
            "module": "ctxscope",
        }),
    );
    match record.kind {
        "flow" => flow(f, &mut doc, &mut net),
        "finding" => finding(f, tuple, &mut doc, &mut net),
        "session" | "licensing_session" | "heartbeat_series" => {
            ends(f.get("client"), f.get("server"), &mut doc)
        }
        _ => {}
    }
    let proto = if record.kind == "session" {
        "transport"
    } else {
        "proto"
    };
    for (ecs, ours) in [("protocol", proto), ("community_id", "community_id")] {
        if let Some(v) = f.get(ours).filter(|v| v.is_string()) {
            net.insert(ecs.into(), v.clone());
        }
    }
    if !net.is_empty() {
        doc.insert("network".into(), Value::Object(net));
    }
    let mut ours = f.clone();
    ours.insert("record".into(), record.kind.into());
    doc.insert(
        "ctxscope".into(),
        json!({ "schema": f.get("schema"), record.kind: ours }),
    );
    Value::Object(doc)
}

/// `event.kind` and `event.type` of a record.
fn categorise(record: &Record) -> (&'static str, Vec<&'static str>) {
    let f = &record.fields;
    let flag = |k: &str| f.get(k).and_then(Value::as_bool);
    match record.kind {
        "flow" if flag("final") == Some(false) => ("event", vec!["connection", "info"]),
        "flow" => ("event", vec!["connection", "end"]),
        "event" => ("event", vec!["protocol"]),
        "finding" if f.get("state").and_then(Value::as_str) == Some("cleared") => {
            ("alert", vec!["end"])
        }
        "finding" => ("alert", vec!["info"]),
        "session" if flag("open") == Some(true) => ("state", vec!["connection", "start"]),
        "session" => ("state", vec!["connection", "end"]),
        "licensing_session" | "heartbeat_series" => ("state", vec!["info"]),
        _ => ("metric", vec!["info"]),
    }
}

/// `source`/`client` and `destination`/`server` from "ip:port" (or a bare address) strings.
fn ends(client: Option<&Value>, server: Option<&Value>, doc: &mut Map<String, Value>) {
    for (end, roles) in [
        (client, ["source", "client"]),
        (server, ["destination", "server"]),
    ] {
        let Some(text) = end.and_then(Value::as_str) else {
            continue;
        };
        let (ip, port) = split_endpoint(text);
        let mut m = Map::new();
        m.insert("ip".into(), ip.into());
        if let Some(p) = port {
            m.insert("port".into(), p.into());
        }
        for role in roles {
            doc.insert(role.into(), Value::Object(m.clone()));
        }
    }
}

/// `10.0.0.1:1494` -> (`10.0.0.1`, 1494); `[::1]:80` -> (`::1`, 80); `10.0.0.1` alone.
fn split_endpoint(text: &str) -> (String, Option<u16>) {
    if let Ok(addr) = text.parse::<std::net::SocketAddr>() {
        return (addr.ip().to_string(), Some(addr.port()));
    }
    (text.to_string(), None)
}

fn flow(f: &Map<String, Value>, doc: &mut Map<String, Value>, net: &mut Map<String, Value>) {
    ends(f.get("client"), f.get("server"), doc);
    let count =
        |dir: &str, what: &str| f.get(dir).and_then(|d| d.get(what)).and_then(Value::as_u64);
    for (role, dir) in [("source", "to_server"), ("destination", "to_client")] {
        if let Some(Value::Object(m)) = doc.get_mut(role) {
            for what in ["bytes", "packets"] {
                if let Some(n) = count(dir, what) {
                    m.insert(what.into(), n.into());
                }
            }
        }
    }
    let total = |what: &str| Some(count("to_server", what)? + count("to_client", what)?);
    if let Some(t) = f.get("transport") {
        net.insert("transport".into(), t.clone());
    }
    for what in ["bytes", "packets"] {
        if let Some(n) = total(what) {
            net.insert(what.into(), n.into());
        }
    }
    if let Some(ip) = f.get("client").and_then(Value::as_str) {
        let v6 = split_endpoint(ip).0.contains(':');
        net.insert("type".into(), if v6 { "ipv6" } else { "ipv4" }.into());
    }
    let mut event = Map::new();
    if let Some(first) = f.get("first") {
        event.insert("start".into(), first.clone());
    }
    if let Some(last) = f.get("last") {
        event.insert("end".into(), last.clone());
    }
    if let Some(secs) = f.get("duration_secs").and_then(Value::as_f64) {
        // ECS durations are nanoseconds.
        event.insert("duration".into(), ((secs * 1e9) as i64).into());
    }
    if let Some(Value::Object(e)) = doc.get_mut("event") {
        e.extend(event);
    }
}

fn finding(
    f: &Map<String, Value>,
    tuple: Option<&FlowTuple>,
    doc: &mut Map<String, Value>,
    net: &mut Map<String, Value>,
) {
    if let Some(t) = tuple {
        let (client, server) = (t.client.to_string(), t.server.to_string());
        ends(Some(&client.into()), Some(&server.into()), doc);
        net.insert("transport".into(), t.transport.name().into());
    }
    if let Some(code) = f.get("code") {
        doc.insert("rule".into(), json!({ "id": code, "name": code }));
    }
    if let Some(m) = f.get("message") {
        doc.insert("message".into(), m.clone());
    }
    let severity = match f.get("severity").and_then(Value::as_str) {
        Some("high") => 73,
        Some("medium") => 47,
        Some("low") => 21,
        _ => 1,
    };
    if let Some(Value::Object(e)) = doc.get_mut("event") {
        e.insert("severity".into(), severity.into());
    }
}
