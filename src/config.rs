//! Settings: a TOML file, defaults that suit a standard Citrix farm, and command-line overrides.
//!
//! Every key can be overridden with `--set section.key=VALUE` (VALUE in TOML syntax, or a bare
//! string), applied on top of the file; a few common ones also have their own flags, which the
//! CLI turns into the same overrides. Unknown keys are errors, so a typo never silently does
//! nothing.

mod budget;
mod size;

pub use budget::{MIN_MEMORY, SHARES, Share};
pub use size::Size;

use anyhow::{Context as _, Result, anyhow, bail};
use ctxscope_dissectors::{Proto, Registry, Transport};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The protocols of this run: the `[ports]` keys, `--decode-as` names, port table, probes
    /// and every list of protocols shown to the user come from it. Not a setting of the file.
    #[serde(skip)]
    pub registry: Registry,
    /// Read with the registry (its keys are protocol names), not by `Deserialize`.
    #[serde(skip_deserializing)]
    pub ports: Ports,
    pub licensing: Licensing,
    pub sessions: Sessions,
    pub scans: Scans,
    pub edt: Edt,
    pub timeouts: Timeouts,
    pub limits: Limits,
    pub monitor: Monitor,
}

/// Which ports each protocol is expected on, keyed by protocol name in the file (`ica = [1494]`),
/// and the forced decodes (`decode_as`). A connection is labelled by port only when its payload
/// does not say otherwise.
#[derive(Clone, Debug, PartialEq)]
pub struct Ports {
    /// Every registered protocol, in registry order: its spec's default ports unless configured.
    ranges: Vec<(Proto, Vec<PortRange>)>,
    /// Forced decodes, like Wireshark's "Decode As": `{ "8080" = "ica" }`. They win over payload.
    /// A port is forced on the transport its protocol runs over (`"udp/443"` says it too).
    decode_as: BTreeMap<(u16, Transport), Proto>,
}

impl Default for Ports {
    fn default() -> Ports {
        Ports::defaults(&Registry::builtin())
    }
}

/// The `[ports]` key of the forced decodes; every other key is a protocol name.
const DECODE_AS: &str = "decode_as";

impl Ports {
    /// Every protocol of `registry` on its spec's default ports; no forced decode.
    pub fn defaults(registry: &Registry) -> Ports {
        let ranges = registry
            .iter()
            .map(|p| {
                let defaults = p.spec().default_ports.iter();
                (p, defaults.map(|&(a, b)| PortRange(a, b)).collect())
            })
            .collect();
        Ports {
            ranges,
            decode_as: BTreeMap::new(),
        }
    }

    /// The `[ports]` section: the defaults of `registry`, changed by what `table` sets.
    fn read(registry: &Registry, table: toml::Table) -> Result<Ports> {
        let mut ports = Ports::defaults(registry);
        for (key, value) in table {
            if key == DECODE_AS {
                ports.decode_as = decode_as(registry, value)?;
                continue;
            }
            let Some(slot) = ports.ranges.iter_mut().find(|(p, _)| p.name() == key) else {
                bail!(
                    "ports: unknown key `{key}`: expected a protocol ({}) or {DECODE_AS}",
                    registry.names().join(", ")
                );
            };
            slot.1 = value
                .try_into()
                .map_err(|e| anyhow!("ports.{key}: {}", toml_error(&e, None)))?;
        }
        Ok(ports)
    }

    /// The port ranges configured for `proto` (none for a protocol the registry lacks).
    pub fn of(&self, proto: Proto) -> &[PortRange] {
        self.ranges
            .iter()
            .find(|(p, _)| *p == proto)
            .map_or(&[], |(_, ranges)| ranges)
    }

    /// Every protocol with its port ranges, in registry order.
    pub fn iter(&self) -> impl Iterator<Item = (Proto, &[PortRange])> {
        self.ranges
            .iter()
            .map(|(p, ranges)| (*p, ranges.as_slice()))
    }

    /// Forced decodes, by port (on the transport of each protocol).
    pub fn decode_as(&self) -> Vec<(u16, Proto)> {
        self.decode_as
            .iter()
            .map(|(&(port, _), &p)| (port, p))
            .collect()
    }
}

/// `decode_as = { "8080" = "ica", "udp/443" = "edt" }`, checked against the registry. A key is a
/// port, on the transport its protocol runs over, or `tcp/PORT` / `udp/PORT` to say which (so
/// that one port can be forced on both transports).
fn decode_as(registry: &Registry, value: toml::Value) -> Result<BTreeMap<(u16, Transport), Proto>> {
    let toml::Value::Table(table) = value else {
        bail!("ports.{DECODE_AS}: expected a table of PORT = PROTO, like {{ \"8080\" = \"ica\" }}");
    };
    let mut forced = BTreeMap::new();
    for (key, proto) in table {
        let (said, port) = match key.split_once('/') {
            Some((transport, port)) => {
                let t = Transport::from_name(transport).ok_or_else(|| {
                    anyhow!("ports.{DECODE_AS}: {key:?}: expected PORT, tcp/PORT or udp/PORT")
                })?;
                (Some(t), port)
            }
            None => (None, key.as_str()),
        };
        let port: u16 = port
            .parse()
            .map_err(|_| anyhow!("ports.{DECODE_AS}: {key:?} is not a port"))?;
        let proto = proto
            .as_str()
            .and_then(|name| registry.get(name))
            .ok_or_else(|| {
                anyhow!(
                    "ports.{DECODE_AS}.{key}: {proto} is not a protocol (protocols: {})",
                    registry.names().join(", ")
                )
            })?;
        let transport = proto.spec().transport;
        if said.is_some_and(|t| t != transport) {
            bail!(
                "ports.{DECODE_AS}.{key}: {} runs over {}",
                proto.name(),
                transport.name().to_uppercase()
            );
        }
        if forced.insert((port, transport), proto).is_some() {
            bail!(
                "ports.{DECODE_AS}: {} {port} is forced twice",
                transport.name().to_uppercase()
            );
        }
    }
    Ok(forced)
}

/// Written as the file reads: one key per protocol, then `decode_as` (a UDP port as
/// `udp/PORT`, so that a TCP and a UDP decode of one port both have a key).
impl Serialize for Ports {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let decode_as: BTreeMap<String, Proto> = self
            .decode_as
            .iter()
            .map(|(&(port, transport), p)| {
                let key = match transport {
                    Transport::Tcp => port.to_string(),
                    Transport::Udp => format!("udp/{port}"),
                };
                (key, *p)
            })
            .collect();
        let mut map = s.serialize_map(Some(self.ranges.len() + 1))?;
        for (p, ranges) in &self.ranges {
            map.serialize_entry(p.name(), ranges)?;
        }
        map.serialize_entry(DECODE_AS, &decode_as)?;
        map.end()
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Licensing {
    /// Known license servers. When set, FlexLM traffic to any other address is a finding.
    pub license_servers: Vec<IpAddr>,
    /// A heartbeat is overdue after this many learned intervals without an exchange.
    pub heartbeat_overdue_factor: f64,
    /// Before a vendor-daemon connection's cadence is learned, the silence allowed on it
    /// (2.5 times the 5 minutes Citrix products use).
    pub heartbeat_ceiling_secs: f64,
    /// How long a port announced by lmgrd waits for its connection.
    pub announcement_timeout_secs: f64,
}

impl Default for Licensing {
    fn default() -> Licensing {
        Licensing {
            license_servers: Vec::new(),
            heartbeat_overdue_factor: 2.5,
            heartbeat_ceiling_secs: 750.0,
            announcement_timeout_secs: 60.0,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Sessions {
    /// A keep-alive is overdue after this many learned intervals without one (nor any other
    /// traffic) while the session is open.
    pub keepalive_overdue_factor: f64,
    /// Before a keep-alive series' cadence is learned, the silence allowed (2.5 times the 60 s
    /// ICA keep-alive Citrix policies default to); CGP uses the interval its BIND announced.
    pub keepalive_ceiling_secs: f64,
    /// A session's median round trip on one side of the capture point above this is high
    /// latency; the server's think time less its round trip above it, and above the client
    /// side's round trip, a server delay.
    pub latency_warn_ms: f64,
    /// A launch (first packet to first screen) longer than this is slow.
    pub launch_warn_secs: f64,
}

impl Default for Sessions {
    fn default() -> Sessions {
        Sessions {
            keepalive_overdue_factor: 2.5,
            keepalive_ceiling_secs: 150.0,
            latency_warn_ms: 150.0,
            launch_warn_secs: 10.0,
        }
    }
}

/// When a host's connection attempts are a scan (Zeek's scan.zeek thresholds: 25 targets in
/// 5 minutes).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Scans {
    /// The window a source's attempts are counted over.
    pub window_secs: f64,
    /// Distinct destination ports within the window that make a source a scanner...
    pub min_ports: usize,
    /// ... or distinct destination hosts.
    pub min_hosts: usize,
    /// ... if at most this share of its attempts were answered with a SYN-ACK.
    pub max_answered_share: f64,
}

impl Default for Scans {
    fn default() -> Scans {
        Scans {
            window_secs: 300.0,
            min_ports: 25,
            min_hosts: 25,
            max_answered_share: 0.5,
        }
    }
}

/// HDX adaptive transport: EDT over UDP and its fallback to TCP.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Edt {
    /// A client whose EDT datagrams got no answer and that opens TCP to the same server's ICA or
    /// CGP port within this many seconds of its last datagram fell back to TCP.
    pub fallback_window_secs: f64,
}

impl Default for Edt {
    fn default() -> Edt {
        Edt {
            fallback_window_secs: 30.0,
        }
    }
}

/// Sensor mode (`ctxscope monitor`): how often it writes what is still going on.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Monitor {
    /// An interim `flow` record (`"final": false`) of each connection open at least this long,
    /// every this many seconds.
    pub flow_update_secs: f64,
    /// A `stats` record every this many seconds.
    pub stats_secs: f64,
    /// Metrics labelled per client (`ctxscope_licensing_session_status`): one series per
    /// licensing session, so only for farms of a bounded size.
    pub client_labels: bool,
}

impl Default for Monitor {
    fn default() -> Monitor {
        Monitor {
            flow_update_secs: 300.0,
            stats_secs: 60.0,
            client_labels: false,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// An established connection silent this long is retired (license heartbeats come every
    /// 2 to 5 minutes, so keep this well above that and above the heartbeat ceiling).
    pub tcp_idle_secs: f64,
    /// A connection that never completed its handshake is retired after this long.
    pub tcp_handshake_secs: f64,
    /// A closed (FIN/RST) connection stays this long for late retransmissions.
    pub tcp_closed_secs: f64,
    /// A UDP flow silent this long is retired (UDP has no close).
    pub udp_idle_secs: f64,
    /// Incomplete IPv4 fragment sets are dropped after this long.
    pub ip_fragment_secs: f64,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            tcp_idle_secs: 3600.0,
            tcp_handshake_secs: 60.0,
            tcp_closed_secs: 10.0,
            udp_idle_secs: 60.0,
            ip_fragment_secs: 30.0,
        }
    }
}

/// Caps on everything that grows with the traffic. Hitting one is counted in the report. The
/// caps of the parts that share `memory` are derived from it unless set ([`budget`]).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// The memory budget that the flow table, reassembly, records, events, findings and
    /// sessions share.
    pub memory: Size,
    /// Connections tracked at the same time.
    pub max_flows: usize,
    /// Finished connections kept for the report (the oldest are summarised past this).
    pub max_flow_records: usize,
    /// Decoded events kept per connection for the report and the detail view.
    pub max_events_per_flow: usize,
    /// Decoded events kept over all connections.
    pub max_events_total: usize,
    /// Distinct findings kept (repeats of one finding on one connection only raise its count).
    pub max_findings: usize,
    /// Ports announced by lmgrd waiting for their connection.
    pub max_announcements: usize,
    /// Out-of-order bytes held per connection direction.
    pub reassembly_bytes_per_direction: Size,
    /// Out-of-order segments held per connection direction.
    pub reassembly_segments_per_direction: usize,
    /// Delivered bytes kept per connection direction until the peer acknowledges them, to
    /// compare retransmitted and overlapping copies with (`tcp.overlap_conflict`).
    pub unacked_bytes_per_direction: Size,
    /// Memory held for reassembly over all connections: out-of-order segments and delivered
    /// bytes awaiting their ACK.
    pub reassembly_bytes_total: Size,
    /// The stream depth: once a connection's dissector needs no more payload (a TLS handshake
    /// read to its end, a connection that is none of ours), its payload is no longer copied or
    /// decoded; only its sequence accounting goes on.
    pub stream_depth: bool,
    /// IPv4 datagrams being reassembled from fragments at the same time.
    pub max_fragmented_datagrams: usize,
    /// Licensing and Citrix sessions kept for the report.
    pub max_sessions: usize,
    /// Sources whose connection attempts are watched for scans at the same time.
    pub max_scan_sources: usize,
    /// Client/server pairs whose EDT (UDP) attempts wait for an answer or a fallback to TCP, or
    /// whose fallback findings count up.
    pub max_edt_attempts: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::within(Size::mib(150))
    }
}

pub fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)
}

/// An inclusive port range, written `7279` or `"27000-27009"` in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PortRange(pub u16, pub u16);

impl PortRange {
    pub fn contains(self, port: u16) -> bool {
        (self.0..=self.1).contains(&port)
    }

    pub fn ports(self) -> impl Iterator<Item = u16> {
        self.0..=self.1
    }

    fn parse(s: &str) -> Result<PortRange, String> {
        let port = |p: &str| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("{p:?} is not a port"))
        };
        match s.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (port(a)?, port(b)?);
                if a > b {
                    return Err(format!("port range {s:?} runs backwards"));
                }
                Ok(PortRange(a, b))
            }
            None => port(s).map(|p| PortRange(p, p)),
        }
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PortRange, D::Error> {
        integer_or_text(
            d,
            "port",
            |p| u16::try_from(p).ok().map(|p| PortRange(p, p)),
            PortRange::parse,
        )
    }
}

/// A setting written as an integer (`from_integer` takes it, or it is not a `what`) or as text
/// (`parse` reads it, or says why not).
fn integer_or_text<'de, D: Deserializer<'de>, T>(
    d: D,
    what: &str,
    from_integer: impl FnOnce(i64) -> Option<T>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Integer(i64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Integer(n) => {
            from_integer(n).ok_or_else(|| serde::de::Error::custom(format!("{n} is not a {what}")))
        }
        Raw::Text(s) => parse(&s).map_err(serde::de::Error::custom),
    }
}

impl Config {
    /// [`Config::load_with`] the built-in protocols.
    pub fn load(file: Option<&Path>, overrides: &[String]) -> Result<Config> {
        Config::load_with(Registry::builtin(), file, overrides)
    }

    /// Loads the file (if any), applies `key=value` overrides in order, and checks the result:
    /// a configuration that loads is one the engine runs with. `registry` is the protocols the
    /// `[ports]` section and the forced decodes may name.
    pub fn load_with(
        registry: Registry,
        file: Option<&Path>,
        overrides: &[String],
    ) -> Result<Config> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config {}", path.display()))?;
                text.parse::<toml::Table>().map_err(|e| {
                    anyhow!("config {}: {}", path.display(), toml_error(&e, Some(&text)))
                })?
            }
            None => toml::Table::new(),
        };
        for o in overrides {
            apply_override(&mut table, o)?;
        }
        refuse_removed(&table)?;
        derive_limits(&mut table)?;
        let ports = match table.remove("ports") {
            None => toml::Table::new(),
            Some(toml::Value::Table(ports)) => ports,
            Some(_) => bail!("config: ports: expected a section"),
        };
        let mut config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e| anyhow!("config: {}", toml_error(&e, None)))?;
        config.ports = Ports::read(&registry, ports).map_err(|e| anyhow!("config: {e}"))?;
        config.registry = registry;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        let (l, s) = (&self.licensing, &self.sessions);
        if !(l.heartbeat_ceiling_secs > 0.0 && l.heartbeat_overdue_factor >= 1.0) {
            bail!(
                "licensing: heartbeat_ceiling_secs must be > 0 and heartbeat_overdue_factor >= 1"
            );
        }
        if !(s.keepalive_ceiling_secs > 0.0 && s.keepalive_overdue_factor >= 1.0) {
            bail!("sessions: keepalive_ceiling_secs must be > 0 and keepalive_overdue_factor >= 1");
        }
        if !(s.latency_warn_ms > 0.0 && s.launch_warn_secs > 0.0) {
            bail!("sessions: latency_warn_ms and launch_warn_secs must be > 0");
        }
        let scans = &self.scans;
        if !(scans.window_secs > 0.0
            && scans.min_ports >= 2
            && scans.min_hosts >= 2
            && (0.0..=1.0).contains(&scans.max_answered_share))
        {
            bail!(
                "scans: window_secs must be > 0, min_ports and min_hosts at least 2, max_answered_share between 0 and 1"
            );
        }
        if self.limits.max_flows == 0 {
            bail!("limits.max_flows must be at least 1");
        }
        if self.limits.memory < MIN_MEMORY {
            bail!("limits.memory must be at least {MIN_MEMORY}");
        }
        let window = self.edt.fallback_window_secs;
        if window.is_nan() || window < 0.0 {
            bail!("edt.fallback_window_secs must be >= 0");
        }
        let m = &self.monitor;
        if !(m.flow_update_secs >= 1.0 && m.stats_secs >= 1.0) {
            bail!("monitor: flow_update_secs and stats_secs must be at least 1");
        }
        Ok(())
    }
}

/// Settings that were removed because what they meant is gone: each names what replaces it,
/// rather than the generic "unknown key" (or a silently changed meaning).
const REMOVED: &[(&str, &str, &str)] = &[(
    "licensing",
    "heartbeat_idle_secs",
    "heartbeat cadences are now learned from the traffic, with no idle threshold; \
     licensing.heartbeat_ceiling_secs (default 750) is the silence allowed on a vendor-daemon \
     connection before its cadence is learned",
)];

fn refuse_removed(table: &toml::Table) -> Result<()> {
    for (section, key, why) in REMOVED {
        if table
            .get(*section)
            .and_then(toml::Value::as_table)
            .is_some_and(|t| t.contains_key(*key))
        {
            bail!("config: {section}.{key} was removed: {why}");
        }
    }
    Ok(())
}

/// Fills the `[limits]` section with the caps derived from its `memory` (the default budget if
/// unset), under the caps it sets itself: a cap set on its own wins. A `memory` that is not a
/// size is left for the section's deserialization to report.
fn derive_limits(table: &mut toml::Table) -> Result<()> {
    let set = match table.remove("limits") {
        None => toml::Table::new(),
        Some(toml::Value::Table(set)) => set,
        Some(_) => bail!("config: limits: expected a section"),
    };
    let memory = set
        .get("memory")
        .and_then(|m| Size::deserialize(m.clone()).ok())
        .unwrap_or(Limits::default().memory);
    let mut limits = toml::Table::try_from(Limits::within(memory))?;
    limits.extend(set);
    table.insert("limits".to_string(), toml::Value::Table(limits));
    Ok(())
}

/// A TOML error on one line: `line L, column C: message` in a file's `text`, `a.b: message`
/// for a value that does not fit its key.
fn toml_error(e: &toml::de::Error, text: Option<&str>) -> String {
    if let (Some(text), Some(span)) = (text, e.span()) {
        let before = text.get(..span.start).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        return format!(
            "line {line}, column {column}: {}",
            lines_joined(e.message(), "; ")
        );
    }
    // Displayed as the message, then "in `a.b`" naming the key.
    let shown = lines_joined(&e.to_string(), "\n");
    let key = shown
        .rsplit_once('\n')
        .and_then(|(message, last)| Some((last.strip_prefix("in `")?.strip_suffix('`')?, message)));
    match key {
        Some((key, message)) => format!("{key}: {}", lines_joined(message, "; ")),
        None => lines_joined(&shown, "; "),
    }
}

/// The non-empty lines of `text`, trimmed and joined with `separator`: error messages are
/// printed on one line.
pub(crate) fn lines_joined(text: &str, separator: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(separator)
}

/// Applies one `a.b.c=value` override to a TOML table. The value is TOML (`7279`, `[1, 2]`,
/// `true`, `"text"`); anything that does not parse as TOML is taken as a string.
pub fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<()> {
    let (path, raw) = assignment
        .split_once('=')
        .ok_or_else(|| anyhow!("--set {assignment:?}: expected KEY=VALUE"))?;
    let keys: Vec<&str> = path.trim().split('.').collect();
    if keys.iter().any(|k| k.is_empty()) {
        bail!("--set {assignment:?}: bad key {path:?}");
    }
    let value = format!("v = {}", raw.trim())
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.trim().to_string()));
    let (last, parents) = keys
        .split_last()
        .ok_or_else(|| anyhow!("--set: empty key"))?;
    let mut node = table;
    for k in parents {
        let entry = node
            .entry((*k).to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        node = entry
            .as_table_mut()
            .ok_or_else(|| anyhow!("--set {assignment:?}: {k} is not a section"))?;
    }
    node.insert((*last).to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_suit_a_standard_farm() {
        let c = Config::load(None, &[]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.ports.of(Proto::LMGRD), [PortRange(27000, 27009)]);
        assert_eq!(c.ports.of(Proto::VENDOR_DAEMON), [PortRange(7279, 7279)]);
        assert_eq!(c.licensing.heartbeat_ceiling_secs, 750.0);
        assert_eq!(c.sessions.keepalive_ceiling_secs, 150.0);
    }

    #[test]
    fn file_then_overrides() {
        let dir = std::env::temp_dir().join(format!("ctxscope-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(
            &path,
            "[ports]\nvendor_daemon = [7279, \"7300-7301\"]\ndecode_as = { \"8080\" = \"ica\" }\n\
             [licensing]\nlicense_servers = [\"10.0.0.5\"]\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&path),
            &[
                "licensing.heartbeat_ceiling_secs=600".into(),
                "ports.ica=[1494, 8443]".into(),
                "ports.decode_as.9000=cgp".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            c.ports.of(Proto::VENDOR_DAEMON),
            [PortRange(7279, 7279), PortRange(7300, 7301)]
        );
        assert_eq!(
            c.ports.of(Proto::ICA),
            [PortRange(1494, 1494), PortRange(8443, 8443)]
        );
        assert_eq!(
            c.ports.decode_as(),
            [(8080, Proto::ICA), (9000, Proto::CGP)]
        );
        assert_eq!(
            c.licensing.license_servers,
            vec!["10.0.0.5".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(c.licensing.heartbeat_ceiling_secs, 600.0);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_forced_decode_is_on_its_protocols_transport_and_round_trips() {
        let c = Config::load(
            None,
            &[
                "ports.decode_as.443=cgp".into(),
                "ports.decode_as.udp/443=edt".into(),
                "ports.decode_as.5000=edt".into(),
                "ports.edt=[1494, 2598, 443]".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            c.ports.decode_as(),
            [(443, Proto::CGP), (443, Proto::EDT), (5000, Proto::EDT)]
        );
        assert_eq!(
            c.ports.of(Proto::EDT),
            [
                PortRange(1494, 1494),
                PortRange(2598, 2598),
                PortRange(443, 443)
            ]
        );
        let written = toml::to_string(&c).unwrap();
        assert!(
            written.contains(
                "[ports.decode_as]\n443 = \"cgp\"\n\"udp/443\" = \"edt\"\n\"udp/5000\" = \"edt\""
            ),
            "{written}"
        );
        // The section as written reads back the same.
        let section = written
            .split("[ports.decode_as]")
            .nth(1)
            .expect("a decode_as section");
        let dir = std::env::temp_dir().join(format!("ctxscope-decode-as-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(&path, format!("[ports.decode_as]{section}")).unwrap();
        let again = Config::load(Some(&path), &[]).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
        assert_eq!(again.ports.decode_as(), c.ports.decode_as());
        for (bad, message) in [
            (
                "ports.decode_as.udp/80=ica",
                "ports.decode_as.udp/80: ica runs over TCP",
            ),
            (
                "ports.decode_as.tcp/80=edt",
                "ports.decode_as.tcp/80: edt runs over UDP",
            ),
        ] {
            let err = Config::load(None, &[bad.into()]).unwrap_err();
            assert_eq!(err.to_string(), format!("config: {message}"));
        }
        let twice = [
            "ports.decode_as.1494=edt".into(),
            "ports.decode_as.udp/1494=edt".into(),
        ];
        let err = Config::load(None, &twice).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config: ports.decode_as: UDP 1494 is forced twice"
        );
    }

    /// Each of `settings`, given alone, is refused.
    fn refused(settings: &[&str]) {
        for bad in settings {
            assert!(
                Config::load(None, &[bad.to_string()]).is_err(),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn mistakes_are_reported_not_ignored() {
        refused(&[
            "ports.icaa=1494",
            "ports.ica=70000",
            "ports.lmgrd=\"27009-27000\"",
            "ports.decode_as.http=ica",
            "ports.decode_as.80=telnet",
            "licensing.heartbeat_ceiling_secs=0",
            "sessions.keepalive_ceiling_secs=-1",
            "sessions.keepalive_overdue_factor=0.5",
            "sessions.latency_warn_ms=0",
            "sessions.launch_warn_secs=-3",
            "scans.min_ports=1",
            "scans.max_answered_share=1.5",
            "ports.decode_as.udp/80=ica",
            "ports.decode_as.sctp/80=ica",
            "edt.fallback_window_secs=-1",
            "noequals",
        ]);
    }

    #[test]
    fn the_budget_sets_the_caps_that_are_not_set_on_their_own() {
        let c = Config::load(None, &["limits.memory=16M".into()]).unwrap();
        assert_eq!(c.limits, Limits::within(Size::mib(16)));
        let c = Config::load(
            None,
            &[
                "limits.memory=\"2G\"".into(),
                "limits.max_flows=500".into(),
                "limits.reassembly_bytes_total=64M".into(),
                "limits.unacked_bytes_per_direction=32k".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.limits.memory, Size(2 << 30));
        assert_eq!(c.limits.max_flows, 500);
        assert_eq!(c.limits.reassembly_bytes_total, Size::mib(64));
        assert_eq!(c.limits.unacked_bytes_per_direction, Size(32 << 10));
        assert_eq!(
            c.limits.max_flow_records,
            Limits::within(Size(2 << 30)).max_flow_records
        );
        refused(&["limits.memory=1M", "limits.memory=lots", "limits=3"]);
    }

    #[test]
    fn a_removed_setting_says_what_replaces_it() {
        let e = Config::load(None, &["licensing.heartbeat_idle_secs=120".into()]).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("config: licensing.heartbeat_idle_secs was removed: ")
                && text.contains("licensing.heartbeat_ceiling_secs"),
            "{text}"
        );
    }
}
