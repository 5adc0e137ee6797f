//! What dissectors report: discrete events as they happen, and a summary of counters on demand.

use crate::types::{Dir, Severity, Timestamp};
use crate::{cgp, edt, flexlm, ica, ima, tls};
use serde::Serialize;

/// One thing a dissector saw, with when and in which direction.
///
/// Serialised flat: `{"ts": ..., "dir": "to_server", "proto": "ica", "event": {"type": ...}}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    pub ts: Timestamp,
    /// `None` for events that belong to the connection as a whole (e.g. at close).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<Dir>,
    #[serde(flatten)]
    pub body: Body,
}

impl Event {
    pub fn new(ts: Timestamp, dir: Dir, body: impl Into<Body>) -> Event {
        Event {
            ts,
            dir: Some(dir),
            body: body.into(),
        }
    }

    pub fn connection(ts: Timestamp, body: impl Into<Body>) -> Event {
        Event {
            ts,
            dir: None,
            body: body.into(),
        }
    }
}

/// Declares [`Body`], one variant per kind of event, and the conversion of each kind into it
/// (so that a dissector pushes its own `Event` or an [`Anomaly`] with `.into()`).
macro_rules! bodies {
    ($($variant:ident($event:ty)),+ $(,)?) => {
        #[derive(Clone, Debug, PartialEq, Serialize)]
        #[serde(tag = "proto", content = "event", rename_all = "snake_case")]
        pub enum Body {
            $($variant($event),)+
        }

        $(
            impl From<$event> for Body {
                fn from(e: $event) -> Body {
                    Body::$variant(e)
                }
            }
        )+
    };
}

bodies! {
    Flexlm(flexlm::Event),
    Ica(ica::Event),
    Cgp(cgp::Event),
    Ima(ima::Event),
    Tls(tls::Event),
    Edt(edt::Event),
    Anomaly(Anomaly),
}

/// Something malformed or suspicious in the bytes themselves: a bad checksum, a truncated or
/// oversized message, an unknown framing. The engine turns each into a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    /// Stable dotted code, prefixed by the protocol: `flexlm.bad_checksum`, `ica.bad_frame`, ...
    pub code: &'static str,
    pub severity: Severity,
    /// One line for a human: what was wrong, with the values involved. Wire strings in it must
    /// already be sanitised (use `WireText`).
    pub message: String,
}

impl Anomaly {
    pub fn new(code: &'static str, severity: Severity, message: impl Into<String>) -> Anomaly {
        Anomaly {
            code,
            severity,
            message: message.into(),
        }
    }
}

/// Counters and state of one dissector instance, readable at any time (live views) and at close.
/// Boxed: the summaries differ a lot in size and the enum moves around by value.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "proto", rename_all = "snake_case")]
pub enum Summary {
    Flexlm(Box<flexlm::Summary>),
    Ica(Box<ica::Summary>),
    Cgp(Box<cgp::Summary>),
    Ima(Box<ima::Summary>),
    Tls(Box<tls::Summary>),
    Edt(Box<edt::Summary>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_flat_with_proto_and_event() {
        let e = Event::new(
            Timestamp::from_secs(1),
            Dir::ToServer,
            Anomaly::new(
                "flexlm.bad_checksum",
                Severity::Medium,
                "checksum 0x12, expected 0x34",
            ),
        );
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"ts":"1970-01-01T00:00:01.000000Z","dir":"to_server","proto":"anomaly","event":{"code":"flexlm.bad_checksum","severity":"medium","message":"checksum 0x12, expected 0x34"}}"#
        );
        let whole = Event::connection(Timestamp::from_secs(1), e.body.clone());
        assert!(!serde_json::to_string(&whole).unwrap().contains("\"dir\""));
    }
}
