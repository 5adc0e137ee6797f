//! Fields of model values for display, in the order the model declares them (serde_json's
//! `Value` would sort them by name), so new fields show up without a change here.

use serde::Serialize;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// The top-level fields of `value`'s JSON object, in order; empty if it is not an object.
pub fn ordered(value: &impl Serialize) -> Vec<(String, Value)> {
    serde_json::to_string(value)
        .ok()
        .and_then(|json| serde_json::from_str::<Ordered>(&json).ok())
        .map(|o| o.0)
        .unwrap_or_default()
}

/// An event's body (serialised `{"proto": "ica", "event": {...}}`): the protocol and the
/// event's fields, in order, whatever the protocol.
pub fn event_fields(body: &impl Serialize) -> (String, Vec<(String, Value)>) {
    #[derive(serde::Deserialize)]
    struct Tagged {
        proto: String,
        event: Ordered,
    }
    serde_json::to_string(body)
        .ok()
        .and_then(|json| serde_json::from_str::<Tagged>(&json).ok())
        .map(|t| (t.proto, t.event.0))
        .unwrap_or_default()
}

/// A JSON value on one line: strings bare unless empty or holding spaces, the rest as JSON
/// (which escapes control characters).
pub fn compact(v: &Value) -> String {
    match v {
        Value::String(s) if !s.is_empty() && !s.contains(' ') => s.clone(),
        other => other.to_string(),
    }
}

struct Ordered(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ordered, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    fields.push(entry);
                }
                Ok(Ordered(fields))
            }
        }
        d.deserialize_map(Fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Sample {
        zeta: u8,
        alpha: &'static str,
        mid: Option<u8>,
    }

    #[test]
    fn declaration_order_is_kept() {
        let f = ordered(&Sample {
            zeta: 1,
            alpha: "a b",
            mid: None,
        });
        let names: Vec<&str> = f.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha", "mid"]);
        assert_eq!(compact(&f[1].1), "\"a b\"");
        assert_eq!(compact(&f[2].1), "null");
        assert!(ordered(&3u8).is_empty());
    }

    #[test]
    fn an_event_body_gives_its_protocol_and_its_fields_in_order() {
        use ctxscope_dissectors::{Anomaly, Body, Severity};
        let body = Body::from(Anomaly::new("ica.bad_frame", Severity::Low, "why"));
        let (proto, fields) = event_fields(&body);
        assert_eq!(proto, "anomaly");
        let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["code", "severity", "message"]);
    }
}
