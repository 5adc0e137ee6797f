//! Findings: what the analysis tells the admin, each with a stable code.

use super::FlowId;
use ctxscope_dissectors::{Anomaly, Code, Severity, Timestamp};
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
    /// Where in the capture it was first raised: the number of the packet (counted from 1
    /// over every input) being analysed then, one past the last at the end. Not shown; it
    /// orders the findings of flow-sharded workers as one engine raises them.
    #[serde(skip)]
    pub raised: u64,
}

impl Finding {
    /// A finding of a catalogued code (see [`super::catalogue`]): one of
    /// [`FindingKind`](super::FindingKind), or a protocol's from its spec.
    pub fn new(
        code: impl Into<&'static Code>,
        ts: Timestamp,
        message: impl Into<String>,
    ) -> Finding {
        let code = code.into();
        Finding::raised(code.name, code.severity, ts, message.into())
    }

    /// A dissector's anomaly (its code is catalogued by its protocol's spec).
    pub fn anomaly(a: &Anomaly, ts: Timestamp) -> Finding {
        Finding::raised(a.code, a.severity, ts, a.message.clone())
    }

    fn raised(code: &'static str, severity: Severity, ts: Timestamp, message: String) -> Finding {
        Finding {
            code,
            severity,
            first: ts,
            last: ts,
            count: 1,
            flow: None,
            related_flow: None,
            message,
            raised: 0,
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
