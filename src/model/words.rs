//! Words the outputs share. A fact the text report and the terminal UI both show is worded
//! once, by a method of its model type (`CitrixSession::encryption_text`,
//! `HeartbeatSeries::state`, ...) or by a function here, so the two never say it differently.

use serde::Serialize;

/// The serialised name of a unit enum variant: the word the JSON outputs use, and the text
/// report, the UI and its filter with them (`dynamic_port`, `not_seen`, `logoff`, ...).
pub fn name_of<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "?".into(),
    }
}

/// `static` or `dynamic`: whether a vendor-daemon port is one of the configured static ones.
pub fn port_class(static_port: bool) -> &'static str {
    if static_port { "static" } else { "dynamic" }
}
