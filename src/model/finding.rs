//! Findings: what the analysis tells the admin, each with a stable code.

use super::FlowId;
use ctxscope_dissectors::{Severity, Timestamp};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// Stable dotted code, e.g. `flexlm.vendor_port_dynamic`, `tcp.overlap_conflict`.
    pub code: &'static str,
    pub severity: Severity,
    pub first: Timestamp,
    pub last: Timestamp,
    pub count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<FlowId>,
    /// A second connection involved (e.g. the lmgrd connection that announced a port).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub related_flow: Option<FlowId>,
    /// One line that says what is wrong and what to do; wire strings in it are sanitised.
    pub message: String,
}

impl Finding {
    pub fn new(
        code: &'static str,
        severity: Severity,
        ts: Timestamp,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            code,
            severity,
            first: ts,
            last: ts,
            count: 1,
            flow: None,
            related_flow: None,
            message: message.into(),
        }
    }

    pub fn on_flow(mut self, flow: FlowId) -> Finding {
        self.flow = Some(flow);
        self
    }

    pub fn related(mut self, flow: Option<FlowId>) -> Finding {
        self.related_flow = flow;
        self
    }
}
