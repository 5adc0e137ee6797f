//! The port each license server's vendor daemon was last announced on, to notice a daemon
//! restart (`flexlm.vendor_port_changed`). This links handshakes of *different clients*
//! through their license server, so flow-sharded workers, which each see some clients' pairs,
//! do not judge it themselves: they hand their [`Redirect`]s to the merge, which judges all of
//! them in capture order with the same [`VendorPorts`] (see `engine::merge`).

use crate::analysis::Findings;
use crate::ids::FlowId;
use crate::model::{Finding, FindingKind, FlowTuple};
use ctxscope_dissectors::{Timestamp, WireText};
use rustc_hash::FxHashMap;
use std::net::IpAddr;

/// Redirects a worker keeps for the merge; past that they are counted as dropped events.
const MAX_DEFERRED: usize = 1 << 16;

/// lmgrd sent a client to a vendor daemon's port.
#[derive(Clone, Debug)]
pub struct Redirect {
    /// The number of the packet that carried it.
    pub seq: u64,
    pub ts: Timestamp,
    pub server: IpAddr,
    pub vendor: Option<WireText>,
    pub port: u16,
    pub flow: FlowId,
    /// The lmgrd connection's ends, for a streaming writer that judges it (see `engine::stream`).
    pub tuple: FlowTuple,
}

/// The last port announced per (license server, vendor), up to `cap` of them.
pub struct VendorPorts {
    last: FxHashMap<(IpAddr, Option<WireText>), (u16, FlowId)>,
    cap: usize,
}

impl VendorPorts {
    pub fn new(cap: usize) -> VendorPorts {
        VendorPorts {
            last: FxHashMap::default(),
            cap,
        }
    }

    /// The finding `r` earns if its daemon was announced on another port before.
    pub fn judge(&mut self, r: Redirect) -> Option<Finding> {
        let key = (r.server, r.vendor);
        let finding = match self.last.get(&key) {
            Some(&(before, earlier)) if before != r.port => {
                let (name, pin) = daemon_names(key.1.as_ref());
                Some(
                    Finding::new(
                        FindingKind::FlexlmVendorPortChanged,
                        r.ts,
                        format!(
                            "{name} on {} moved from TCP {before} to TCP {} between handshakes: it restarted on a new random port; pin it with `{pin} PORT=...` in the license files",
                            r.server, r.port
                        ),
                    )
                    .on_flow(r.flow)
                    .related(Some(earlier)),
                )
            }
            _ => None,
        };
        if self.last.len() < self.cap || self.last.contains_key(&key) {
            self.last.insert(key, (r.port, r.flow));
        }
        finding
    }
}

/// How a finding names a vendor daemon, and the license file line that pins its port.
pub(super) fn daemon_names(vendor: Option<&WireText>) -> (String, String) {
    match vendor {
        Some(v) => (format!("vendor daemon {v}"), format!("VENDOR {v}")),
        None => ("the vendor daemon".into(), "VENDOR <name>".into()),
    }
}

/// A worker's redirects, kept for the merge.
#[derive(Clone)]
pub struct Deferred {
    redirects: Vec<Redirect>,
    /// Not kept for [`MAX_DEFERRED`].
    pub dropped: u64,
    /// The cap of [`VendorPorts`].
    servers: usize,
}

impl Deferred {
    pub(super) fn new(servers: usize) -> Deferred {
        Deferred {
            redirects: Vec::new(),
            dropped: 0,
            servers,
        }
    }

    pub(super) fn push(&mut self, r: Redirect) {
        if self.redirects.len() < MAX_DEFERRED {
            self.redirects.push(r);
        } else {
            self.dropped += 1;
        }
    }
}

/// Every part's redirects in capture order, and the cap of [`VendorPorts`] for them (the
/// workers' caps are shares of one: together, the cap of one engine).
pub fn in_capture_order(parts: impl IntoIterator<Item = Deferred>) -> (Vec<Redirect>, usize) {
    let mut servers = 0;
    let mut redirects = Vec::new();
    for d in parts {
        servers += d.servers;
        redirects.extend(d.redirects);
    }
    // A packet goes to one worker, so equal numbers are one worker's, kept in its order.
    redirects.sort_by_key(|r| r.seq);
    (redirects, servers)
}

/// The findings the workers' redirects earn, judged in capture order as one engine judges
/// them as they come (each raised at the packet of its redirect).
pub fn judge_deferred(parts: Vec<Deferred>) -> Vec<Finding> {
    let (redirects, servers) = in_capture_order(parts);
    let mut ports = VendorPorts::new(servers);
    let mut findings = Findings::new(redirects.len());
    for r in redirects {
        findings.at(r.seq);
        if let Some(f) = ports.judge(r) {
            findings.raise(f);
        }
    }
    findings.into_list()
}
