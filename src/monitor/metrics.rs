//! OpenMetrics on `--metrics ADDR:PORT`: what the sensor saw, for Prometheus.
//!
//! The metrics are kept with the official client (`prometheus-client`) and served by a small
//! blocking HTTP server on a thread of its own (`tiny_http`): one listener, one scrape at a
//! time, no async runtime for a page fetched every 15 seconds. They are fed from the same
//! updates and statistics the NDJSON stream is written from ([`Metrics::update`],
//! [`Metrics::read`]), so the two never disagree.
//!
//! Labels are bounded: protocols, finding codes and severities, statuses and transports come
//! from fixed lists, and no label names a client unless `monitor.client_labels` says so. Two
//! families repeat flexlm_exporter's (github.com/mjtrangoni/flexlm_exporter,
//! `collector/lmstat.go`), under its names and labels, so that its Grafana dashboard keeps
//! working: `flexlm_server_status` (is lmgrd up) and `flexlm_vendor_status` (is the vendor
//! daemon up), seen on the wire instead of asked of `lmstat`.

use crate::config::PortRange;
use crate::model::{
    CaptureStats, CitrixSession, ConnectionOutcome, FlowRecord, HandshakeOutcome, KernelStats,
    LicensingSession, LimitStats, SessionStatus, Update, name_of,
};
use crate::output::limits::limit_hits;
use anyhow::{Context as _, Result};
use ctxscope_dissectors::{Proto, Transport};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The exposition's content type (OpenMetrics 1.0), for a scraper that asks for it (Prometheus
/// does).
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The content type of Prometheus' text format, for everyone else (curl, promtool).
const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct FlowLabels {
    transport: &'static str,
    proto: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct FindingLabels {
    code: &'static str,
    severity: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct ClientStatusLabels {
    client: String,
    server: String,
    vendor: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct PortKindLabels {
    port_kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct SessionLabels {
    via: String,
    encryption: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct DropLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct LimitLabels {
    limit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct ProtoLabels {
    proto: &'static str,
}

/// A side of the capture point, for the RTT split (issue: where is the latency).
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct SideLabels {
    proto: &'static str,
    side: &'static str,
}

/// flexlm_exporter's `flexlm_server_status` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct ServerStatusLabels {
    app: String,
    fqdn: String,
    master: String,
    port: String,
    version: String,
}

/// flexlm_exporter's `flexlm_vendor_status` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct VendorStatusLabels {
    app: String,
    name: String,
    version: String,
}

type RttFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Round trips from 0.1 ms to about 6.5 s.
fn rtt_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

pub struct Metrics {
    registry: Arc<Registry>,
    packets: Counter,
    bytes: Counter,
    kernel_drops: Family<DropLabels, Counter>,
    limit_hits: Family<LimitLabels, Counter>,
    flows_open: Gauges<FlowLabels>,
    findings: Family<FindingLabels, Counter>,
    licensing: Gauges<StatusLabels>,
    licensing_by_client: Option<Gauges<ClientStatusLabels>>,
    vendor_connections: Family<PortKindLabels, Counter>,
    vendor_open: Gauges<PortKindLabels>,
    overdue: Gauges<KindLabels>,
    sessions: Gauges<SessionLabels>,
    edt_fallbacks: Counter,
    handshake_rtt: RttFamily<ProtoLabels>,
    side_rtt: RttFamily<SideLabels>,
    server_status: Gauges<ServerStatusLabels>,
    vendor_status: Gauges<VendorStatusLabels>,
    /// What the gauges are made from.
    state: State,
    static_ports: Vec<PortRange>,
}

/// What the sensor knows now, to set the gauges from.
#[derive(Default)]
struct State {
    read: (u64, u64, KernelStats),
    /// What each cap had cost at the last drain, by its key.
    limit_hits: FxHashMap<&'static str, u64>,
    /// Licensing sessions by (client, server, vendor): their latest record.
    licensing: FxHashMap<(IpAddr, IpAddr, String), LicensingSession>,
    /// Open Citrix sessions by id: (via, encryption).
    sessions: FxHashMap<u64, SessionLabels>,
    /// Overdue series by (flow, kind).
    overdue: FxHashMap<(u64, String), ()>,
}

impl Metrics {
    pub fn new(static_ports: Vec<PortRange>, client_labels: bool) -> Metrics {
        let mut r = Registry::default();
        let packets = registered(
            &mut r,
            "ctxscope_packets",
            "Packets read",
            Counter::default(),
        );
        let bytes = registered(
            &mut r,
            "ctxscope_bytes",
            "Bytes read, as on the wire",
            Counter::default(),
        );
        let kernel_drops = registered(
            &mut r,
            "ctxscope_kernel_drops",
            "Packets the kernel dropped before ctxscope read them: reason buffer (ctxscope did not keep up) or interface (the driver)",
            Family::default(),
        );
        let limit_hits = registered(
            &mut r,
            "ctxscope_limit_hits",
            "What each cap or loss cost, in what it counts (connections, records, bytes, flushes...), by its key in the stats record and the JSON report (limits.sessions_dropped, ...): above zero, part of the traffic was not fully analysed",
            Family::default(),
        );
        let flows_open = Gauges::register(
            &mut r,
            "ctxscope_flows_open",
            "Connections (TCP) and flows (UDP) tracked now, by the protocol found (unknown: none yet)",
        );
        let findings = registered(
            &mut r,
            "ctxscope_findings",
            "Finding occurrences, by code and severity (README Findings)",
            Family::default(),
        );
        let licensing = Gauges::register(
            &mut r,
            "ctxscope_licensing_sessions",
            "Licensing sessions (client, license server, vendor) by status",
        );
        let licensing_by_client = client_labels.then(|| {
            Gauges::register(
                &mut r,
                "ctxscope_licensing_session_status",
                "1 for each licensing session, labelled with its client, server, vendor and status (monitor.client_labels)",
            )
        });
        let vendor_connections = registered(
            &mut r,
            "ctxscope_vendor_connections",
            "Vendor-daemon connections that ended, by port kind: static (configured in ports.vendor_daemon) or dynamic",
            Family::default(),
        );
        let vendor_open = Gauges::register(
            &mut r,
            "ctxscope_vendor_connections_open",
            "Vendor-daemon connections open now, by port kind",
        );
        let overdue = Gauges::register(
            &mut r,
            "ctxscope_heartbeat_series_overdue",
            "Heartbeat and keep-alive series overdue now, by kind",
        );
        let sessions = Gauges::register(
            &mut r,
            "ctxscope_sessions_open",
            "Citrix sessions open now, by transport (via) and encryption",
        );
        let edt_fallbacks = registered(
            &mut r,
            "ctxscope_edt_fallbacks",
            "Clients whose EDT (UDP) got no answer and that fell back to TCP",
            Counter::default(),
        );
        let handshake_rtt: RttFamily<_> = registered(
            &mut r,
            "ctxscope_handshake_rtt_seconds",
            "TCP handshake round trip of connections that ended, by protocol",
            Family::new_with_constructor(rtt_histogram),
        );
        let side_rtt: RttFamily<_> = registered(
            &mut r,
            "ctxscope_rtt_median_seconds",
            "Median ACK round trip of each TCP connection that ended, by protocol and side of the capture point (client: capture point to client; server: capture point to server)",
            Family::new_with_constructor(rtt_histogram),
        );
        let server_status = Gauges::register(
            &mut r,
            "flexlm_server_status",
            "License server status labeled by app, fqdn, master, port and version of the license (flexlm_exporter's name; from the wire: 1 when the latest connection to lmgrd was answered; app is the vendor, fqdn the server's address, master unknown)",
        );
        let vendor_status = Gauges::register(
            &mut r,
            "flexlm_vendor_status",
            "License vendor status labeled by app, name and version of the license (flexlm_exporter's name; from the wire: 1 when the latest attempt reached the vendor daemon)",
        );
        Metrics {
            registry: Arc::new(r),
            packets,
            bytes,
            kernel_drops,
            limit_hits,
            flows_open,
            findings,
            licensing,
            licensing_by_client,
            vendor_connections,
            vendor_open,
            overdue,
            sessions,
            edt_fallbacks,
            handshake_rtt,
            side_rtt,
            server_status,
            vendor_status,
            state: State::default(),
            static_ports,
        }
    }

    /// Serves the metrics on `addr` from a thread of its own, until the process ends.
    pub fn serve(&self, addr: SocketAddr) -> Result<()> {
        let server = tiny_http::Server::http(addr)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("--metrics {addr}"))?;
        let registry = Arc::clone(&self.registry);
        std::thread::Builder::new()
            .name("ctxscope-metrics".into())
            .spawn(move || {
                for request in server.incoming_requests() {
                    let _ = respond(&registry, request);
                }
            })
            .context("starting the metrics thread")?;
        Ok(())
    }

    /// The totals read so far (they only grow).
    pub fn read(&mut self, packets: u64, bytes: u64, kernel: Option<KernelStats>) {
        let (p, b, k) = &mut self.state.read;
        self.packets.inc_by(packets.saturating_sub(*p));
        self.bytes.inc_by(bytes.saturating_sub(*b));
        *p = packets.max(*p);
        *b = bytes.max(*b);
        if let Some(now) = kernel {
            for (reason, before, after) in [
                ("buffer", &mut k.dropped, now.dropped),
                ("interface", &mut k.if_dropped, now.if_dropped),
            ] {
                self.kernel_drops
                    .get_or_create(&DropLabels { reason })
                    .inc_by(after.saturating_sub(*before));
                *before = after.max(*before);
            }
        }
    }

    /// What every cap and loss cost so far (they only grow): every key has its series from the
    /// first drain on, so that an alert on its increase sees the first hit.
    pub fn limits(&mut self, limits: &LimitStats, capture: &CaptureStats) {
        for hit in limit_hits(limits, capture) {
            let before = self.state.limit_hits.entry(hit.key).or_default();
            self.limit_hits
                .get_or_create(&LimitLabels { limit: hit.key })
                .inc_by(hit.count.saturating_sub(*before));
            *before = hit.count.max(*before);
        }
    }

    /// The flows open now: their transport, protocol and server port.
    pub fn open_flows(&mut self, flows: impl Iterator<Item = (Transport, Option<Proto>, u16)>) {
        let mut counts: BTreeMap<FlowLabels, i64> = BTreeMap::new();
        let mut vendor: BTreeMap<&'static str, i64> =
            [("static", 0), ("dynamic", 0)].into_iter().collect();
        for (transport, proto, port) in flows {
            let labels = FlowLabels {
                transport: transport.name(),
                proto: proto.map_or("unknown", Proto::name),
            };
            *counts.entry(labels).or_default() += 1;
            if proto == Some(Proto::VENDOR_DAEMON) {
                *vendor.entry(self.port_kind(port)).or_default() += 1;
            }
        }
        self.flows_open.set_all(counts);
        self.vendor_open.set_all(
            vendor
                .into_iter()
                .map(|(port_kind, n)| (PortKindLabels { port_kind }, n))
                .collect(),
        );
    }

    fn port_kind(&self, port: u16) -> &'static str {
        if self.static_ports.iter().any(|r| r.contains(port)) {
            "static"
        } else {
            "dynamic"
        }
    }

    /// One update of the stream.
    pub fn update(&mut self, u: &Update) {
        match u {
            Update::Finding(f) => {
                let labels = FindingLabels {
                    code: f.finding.code,
                    severity: f.finding.severity.name(),
                };
                self.findings.get_or_create(&labels).inc_by(f.added);
                if f.finding.code == "edt.fallback_to_tcp" {
                    self.edt_fallbacks.inc_by(f.added);
                }
            }
            Update::Flow(r) => self.flow_ended(r),
            Update::Licensing(l) => {
                let key = (l.client, l.server, vendor_name(l));
                self.state.licensing.insert(key, l.clone());
                self.licensing_changed();
            }
            Update::Session(s) => {
                if s.open {
                    self.state.sessions.insert(s.id, session_labels(s));
                } else {
                    self.state.sessions.remove(&s.id);
                }
                let mut counts: BTreeMap<SessionLabels, i64> = BTreeMap::new();
                for labels in self.state.sessions.values() {
                    *counts.entry(labels.clone()).or_default() += 1;
                }
                self.sessions.set_all(counts);
            }
            Update::Heartbeat(h) => {
                let key = (h.flow, name_of(&h.stats.kind));
                if h.open && h.stats.overdue {
                    self.state.overdue.insert(key, ());
                } else {
                    self.state.overdue.remove(&key);
                }
                self.overdue_changed();
            }
        }
    }

    fn flow_ended(&mut self, r: &FlowRecord) {
        if r.proto == Some(Proto::VENDOR_DAEMON) {
            let port_kind = self.port_kind(r.server.port);
            self.vendor_connections
                .get_or_create(&PortKindLabels { port_kind })
                .inc();
        }
        let proto = r.proto.map_or("unknown", Proto::name);
        if let Some(ms) = r.handshake_rtt_ms {
            self.handshake_rtt
                .get_or_create(&ProtoLabels { proto })
                .observe(ms / 1e3);
        }
        for (side, stats) in [
            ("client", &r.rtt_client_side),
            ("server", &r.rtt_server_side),
        ] {
            if let Some(s) = stats {
                self.side_rtt
                    .get_or_create(&SideLabels { proto, side })
                    .observe(s.median_ms / 1e3);
            }
        }
        // Its series end with it.
        let before = self.state.overdue.len();
        self.state.overdue.retain(|(flow, _), _| *flow != r.id);
        if self.state.overdue.len() != before {
            self.overdue_changed();
        }
    }

    fn overdue_changed(&mut self) {
        let mut counts: BTreeMap<KindLabels, i64> = BTreeMap::new();
        for (_, kind) in self.state.overdue.keys() {
            *counts.entry(KindLabels { kind: kind.clone() }).or_default() += 1;
        }
        self.overdue.set_all(counts);
    }

    fn licensing_changed(&mut self) {
        let sessions = &self.state.licensing;
        let mut by_status: BTreeMap<StatusLabels, i64> = BTreeMap::new();
        let mut by_client: BTreeMap<ClientStatusLabels, i64> = BTreeMap::new();
        // flexlm_exporter's: the latest word on each license server port and each vendor.
        let mut servers: BTreeMap<(String, String, String), (_, ServerStatusLabels, i64)> =
            BTreeMap::new();
        let mut vendors: BTreeMap<String, (_, VendorStatusLabels, i64)> = BTreeMap::new();
        for ((client, server, vendor), s) in sessions {
            let status = name_of(&s.status);
            *by_status
                .entry(StatusLabels {
                    status: status.clone(),
                })
                .or_default() += 1;
            by_client.insert(
                ClientStatusLabels {
                    client: client.to_string(),
                    server: server.to_string(),
                    vendor: vendor.clone(),
                    status,
                },
                1,
            );
            let version = s
                .handshakes
                .iter()
                .rev()
                .find_map(|h| h.server_version.clone())
                .unwrap_or_else(|| "unknown".into());
            if let Some(h) = s.handshakes.last() {
                let up = !matches!(
                    h.outcome,
                    HandshakeOutcome::Refused | HandshakeOutcome::NoAnswer
                );
                let labels = ServerStatusLabels {
                    app: vendor.clone(),
                    fqdn: server.to_string(),
                    master: "unknown".into(),
                    port: h.lmgrd_port.to_string(),
                    version: version.clone(),
                };
                let key = (vendor.clone(), labels.fqdn.clone(), labels.port.clone());
                if servers.get(&key).is_none_or(|(at, _, _)| *at <= h.at) {
                    servers.insert(key, (h.at, labels, i64::from(up)));
                }
            }
            if let Some(up) = vendor_up(s) {
                let labels = VendorStatusLabels {
                    app: vendor.clone(),
                    name: vendor.clone(),
                    version,
                };
                if vendors.get(vendor).is_none_or(|(at, _, _)| *at <= s.last) {
                    vendors.insert(vendor.clone(), (s.last, labels, i64::from(up)));
                }
            }
        }
        let servers = servers.into_values().map(|(_, l, v)| (l, v)).collect();
        let vendors = vendors.into_values().map(|(_, l, v)| (l, v)).collect();
        self.licensing.set_all(by_status);
        if let Some(f) = &mut self.licensing_by_client {
            f.set_all(by_client);
        }
        self.server_status.set_all(servers);
        self.vendor_status.set_all(vendors);
    }
}

/// Registers `metric` as `name` and hands it back to be updated (the registry keeps a clone
/// that shares its values).
fn registered<M: Metric + Clone>(r: &mut Registry, name: &str, help: &str, metric: M) -> M {
    r.register(name, help, metric.clone());
    metric
}

/// A gauge family whose series are all set at once ([`Gauges::set_all`]): the label sets set
/// before are remembered, so that those gone are removed.
#[derive(Clone)]
struct Gauges<L: Clone + std::hash::Hash + Eq + Ord> {
    family: Family<L, Gauge>,
    shown: std::collections::BTreeSet<L>,
}

impl<L> Gauges<L>
where
    L: Clone
        + std::hash::Hash
        + Eq
        + Ord
        + EncodeLabelSet
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    fn register(r: &mut Registry, name: &str, help: &str) -> Gauges<L> {
        Gauges {
            family: registered(r, name, help, Family::default()),
            shown: std::collections::BTreeSet::new(),
        }
    }

    /// Sets the family to exactly `values`.
    fn set_all(&mut self, values: BTreeMap<L, i64>) {
        for gone in self.shown.iter().filter(|l| !values.contains_key(l)) {
            self.family.remove(gone);
        }
        self.shown = values.keys().cloned().collect();
        for (l, v) in values {
            self.family.get_or_create(&l).set(v);
        }
    }
}

/// Whether the vendor daemon was reached at the latest attempt: `None` before any.
fn vendor_up(s: &LicensingSession) -> Option<bool> {
    if matches!(
        s.status,
        SessionStatus::NotConnected | SessionStatus::LmgrdError
    ) {
        return Some(false);
    }
    let last = s.vendor_connections.last()?;
    Some(!matches!(
        last.outcome,
        ConnectionOutcome::Refused | ConnectionOutcome::NoAnswer
    ))
}

fn vendor_name(l: &LicensingSession) -> String {
    l.vendor
        .as_ref()
        .map_or_else(|| "unknown".into(), |v| v.to_string())
}

fn session_labels(s: &CitrixSession) -> SessionLabels {
    let encryption = match (&s.tls, &s.encryption) {
        (Some(_), _) if s.is_edt() => "dtls".to_string(),
        (Some(_), _) => "tls".to_string(),
        (None, Some(e)) => name_of(e),
        (None, None) => "unknown".to_string(),
    };
    SessionLabels {
        via: name_of(&s.via),
        encryption,
    }
}

fn exposition(registry: &Registry) -> String {
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut text, registry);
    text
}

/// An OpenMetrics exposition in Prometheus' text format (0.0.4), as the official clients
/// serve a scraper that does not ask for OpenMetrics: a counter family is named with its
/// `_total`, and there is no `# EOF`.
pub fn text_format(openmetrics: &str) -> String {
    let counters: std::collections::BTreeSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let family = ["# HELP ", "# TYPE "].iter().find_map(|p| {
            let rest = line.strip_prefix(p)?;
            let name = rest.split(' ').next()?;
            counters
                .contains(name)
                .then_some((p, name, &rest[name.len()..]))
        });
        match family {
            Some((prefix, name, rest)) => {
                text.push_str(prefix);
                text.push_str(name);
                text.push_str("_total");
                text.push_str(rest);
            }
            None => text.push_str(line),
        }
        text.push('\n');
    }
    text
}

fn respond(registry: &Registry, request: tiny_http::Request) -> std::io::Result<()> {
    if request.url() != "/metrics" {
        return request.respond(tiny_http::Response::empty(404));
    }
    let openmetrics = request.headers().iter().any(|h| {
        h.field.equiv("Accept") && h.value.as_str().contains("application/openmetrics-text")
    });
    let body = exposition(registry);
    let (body, content_type) = if openmetrics {
        (body, OPENMETRICS)
    } else {
        (text_format(&body), TEXT)
    };
    let header = tiny_http::Header::from_bytes("Content-Type", content_type)
        .map_err(|()| std::io::Error::other("bad header"))?;
    request.respond(tiny_http::Response::from_string(body).with_header(header))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::engine::{DrainAsk, Drained, Engine};
    use std::path::Path;

    /// The metrics of a monitor run over `capture` (from the repository's root) with
    /// `settings`, streamed through the engine's updates as `monitor` does, and what was
    /// drained.
    fn exposition_with(capture: &str, settings: &[&str]) -> (String, Drained) {
        let settings: Vec<String> = settings.iter().map(|s| s.to_string()).collect();
        let config = Config::load(None, &settings).expect("the settings are valid");
        let mut engine = Engine::new(config);
        engine.stream();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(capture);
        crate::run::read_file(&mut engine, &path, capture, false).expect("the capture opens");
        engine.close();
        let drained = engine.drain(DrainAsk::default());
        let mut metrics = Metrics::new(Vec::new(), false);
        for u in &drained.updates {
            metrics.update(u);
        }
        // A second drain with the same totals adds nothing.
        for _ in 0..2 {
            metrics.limits(&drained.limits, &drained.stats);
        }
        (text_format(&exposition(&metrics.registry)), drained)
    }

    fn exposition_of(capture: &str) -> String {
        exposition_with(capture, &[]).0
    }

    /// The value of `series` (a name with exactly its labels), from its line.
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn every_cap_has_a_series_counting_what_the_stream_says_it_cost() {
        let (text, drained) =
            exposition_with("captures/farm/mixed_farm.pcap", &["limits.max_flows=4"]);
        let hits = |key: &str| {
            sample(
                &text,
                &format!("ctxscope_limit_hits_total{{limit=\"{key}\"}}"),
            )
        };
        let rejected = drained.limits.flow_table.rejected_at_cap;
        assert!(rejected > 0, "the cap of 4 connections is hit");
        assert_eq!(
            hits("limits.flow_table.rejected_at_cap"),
            Some(rejected as f64)
        );
        // The caps not hit have their series, at zero.
        let all = limit_hits(&drained.limits, &drained.stats);
        assert_eq!(all.len(), 16);
        for h in all.iter().filter(|h| h.count == 0) {
            assert_eq!(hits(h.key), Some(0.0), "{}", h.key);
        }
    }

    #[test]
    fn each_side_median_round_trip_of_an_ended_connection_is_observed() {
        // The real ICA session: client side 0.019 ms, server side 5.06 ms (tshark agrees,
        // tests/rtt_tshark.rs), one connection.
        let text = exposition_of("captures/real/trex-citrix-full.pcap");
        let count = |side| {
            sample(
                &text,
                &format!("ctxscope_rtt_median_seconds_count{{proto=\"ica\",side=\"{side}\"}}"),
            )
        };
        assert_eq!(count("client"), Some(1.0), "{text}");
        assert_eq!(count("server"), Some(1.0), "{text}");
        // 0.1 ms is the smallest bucket: the client side is below it, the server side not
        // below 3.2 ms but below 6.4 ms.
        let bucket = |side, le| {
            sample(
                &text,
                &format!(
                    "ctxscope_rtt_median_seconds_bucket{{le=\"{le}\",proto=\"ica\",side=\"{side}\"}}"
                ),
            )
        };
        assert_eq!(bucket("client", "0.0001"), Some(1.0), "{text}");
        assert_eq!(bucket("server", "0.0032"), Some(0.0), "{text}");
        assert_eq!(bucket("server", "0.0064"), Some(1.0), "{text}");
    }
}
