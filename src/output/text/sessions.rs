//! The sessions section: a compact table of the ICA, CGP and EDT sessions, then a few lines per
//! session with what does not fit a column (addresses and time, logon, the transport it ended up
//! on with the TLS or DTLS it runs in, the CGP proxy target and connections, keep-alives, the
//! busiest virtual channels). Lines stay within `WIDTH`: text from the wire is cut, never
//! wrapped. A password is never shown, only that one was sent.

use crate::model::{ChannelUse, CitrixSession, Report, RttStats, SeriesState};
use crate::output::facts::{date, launch_summary};
use crate::output::table::Column::{Left, Right};
use crate::output::table::Table;
use crate::output::units::{bytes, duration, round_trip, time_of_day_micros};
use ctxscope_dissectors::Proto;
use std::io::{self, Write};

/// Longest line of the section (table rows are bounded by the cell limits below).
const WIDTH: usize = 120;
/// Cells holding text from the wire are cut to this many characters.
const NAME_CELL: usize = 20;
/// Channels named in a session's channel line, busiest first, as far as the line allows.
const TOP_CHANNELS: usize = 5;
/// Indent of the detail lines.
const DETAIL: &str = "      ";
/// The label of the channel line (the section says how to read it).
const CHANNELS: &str = "channels: ";

pub(super) fn section(r: &Report, out: &mut impl Write) -> io::Result<()> {
    let columns = [
        Right("ID"),
        Left("VIA"),
        Left("CLIENT NAME"),
        Left("APPLICATION"),
        Left("SERVER"),
        Left("ENCRYPTION"),
        Right("FRAMES C>S/S>C"),
        Right("RECONNECTS"),
        Left("STATE"),
    ];
    let title = "Sessions (ICA / CGP / EDT)";
    let written = Table::section(out, title, &columns, &r.sessions, |t, s| {
        t.row(vec![
            s.id.to_string(),
            s.via.label().to_string(),
            s.client_name
                .as_ref()
                .map_or("-".into(), |n| clip(n.as_str(), NAME_CELL)),
            s.application
                .as_ref()
                .map_or("-".into(), |a| clip(a.as_str(), NAME_CELL)),
            s.server.to_string(),
            s.encryption_text(),
            // Nothing inside EDT is read.
            if s.is_edt() {
                "-".into()
            } else {
                format!("{}/{}", s.frames[0], s.frames[1])
            },
            s.reconnects.to_string(),
            s.state().to_string(),
        ]);
    })?;
    if !written {
        return Ok(());
    }
    writeln!(
        out,
        "  Per session: addresses and time, transport, round trips from the capture point to the client and to\n  \
         the server (medians) and the server's think time, the launch's steps (each with the time since the one\n  \
         before), logon, session reliability, keep-alives, and the busiest virtual channels as bytes\n  \
         client>server/server>client (writes); idle: bound, never written."
    )?;
    for s in &r.sessions {
        writeln!(out)?;
        for line in details(s) {
            writeln!(out, "{}", clip(&line, WIDTH))?;
        }
    }
    Ok(())
}

/// The detail lines of one session.
fn details(s: &CitrixSession) -> Vec<String> {
    let mut lines = Vec::new();
    let span = s.last.since(s.start).as_secs_f64();
    let end = match (s.open, s.ended_by) {
        (true, _) => "still open".to_string(),
        (false, Some(end)) => format!("ended by {}", end.name()),
        (false, None) => "ended".to_string(),
    };
    lines.push(format!(
        "  [{}] {} -> {}, from {} for {}, {end}",
        s.id,
        s.client,
        s.server,
        s.start,
        duration(span)
    ));
    lines.extend(transport(s));
    lines.extend(latency(s));
    lines.extend(launch(s));
    if s.is_edt() {
        // Nothing inside EDT is read: no logon, no channels.
        return lines;
    }
    let mut client = Vec::new();
    if let Some(build) = s.client_build {
        client.push(format!("build {build}"));
    }
    if let Some(domain) = &s.domain {
        client.push(format!("domain {domain}"));
    }
    if let Some(user) = &s.user_name {
        client.push(format!("user {user}"));
    }
    if s.password_present {
        client.push("a password was sent in the init phase (not shown)".to_string());
    }
    if !client.is_empty() {
        lines.push(format!("{DETAIL}client: {}", client.join(", ")));
    }
    // Inside TLS, CGP's bind (proxy target, tickets) and the ICA channels are not visible.
    if s.transport == Proto::CGP && s.tls.is_none() {
        let target = s.proxied_to.as_ref().map_or("-".into(), |t| t.to_string());
        let flows: Vec<String> = s.flows.iter().map(u64::to_string).collect();
        let reconnects = match s.reconnects {
            1 => "1 reconnect".to_string(),
            n => format!("{n} reconnects"),
        };
        lines.push(format!(
            "{DETAIL}session reliability: proxied to {target}; connections {} ({reconnects})",
            flows.join(", ")
        ));
    }
    if let Some(k) = &s.keepalive {
        let median = k
            .interval_median_secs
            .map_or(String::new(), |m| format!(", every {}", duration(m)));
        let overdue = match s.keepalive_state() {
            Some(state @ SeriesState::Overdue) => format!(", {}", state.word()),
            _ => String::new(),
        };
        lines.push(format!(
            "{DETAIL}keep-alives: {} x{}{median}, longest silence {}{overdue}",
            k.kind.label(),
            k.count,
            duration(k.longest_silence_secs)
        ));
    }
    let channels = match s.tls {
        Some(_) => "not visible inside TLS".to_string(),
        None => channels(&s.channels),
    };
    lines.push(format!("{DETAIL}{CHANNELS}{channels}"));
    lines
}

/// Round trips on each side of the capture point, then the server's think time: "round trips:
/// client side 85 ms (p95 210 ms, 340 samples), server side 1.2 ms (...)", "server think
/// time: 40 ms (p95 90 ms, 120 exchanges)".
fn latency(s: &CitrixSession) -> Vec<String> {
    let figures = |st: &RttStats, unit: &str| {
        format!(
            "{} (p95 {}, {} {unit})",
            round_trip(st.median_ms),
            round_trip(st.p95_ms),
            st.samples
        )
    };
    let sides: Vec<String> = [
        ("client side", &s.rtt_client_side),
        ("server side", &s.rtt_server_side),
    ]
    .into_iter()
    .filter_map(|(name, st)| Some(format!("{name} {}", figures(st.as_ref()?, "samples"))))
    .collect();
    let mut lines = Vec::new();
    if !sides.is_empty() {
        lines.push(format!("{DETAIL}round trips: {}", sides.join(", ")));
    }
    if let Some(think) = &s.think_time {
        lines.push(format!(
            "{DETAIL}server think time: {}",
            figures(think, "exchanges")
        ));
    }
    lines
}

/// The launch: its length to the first screen and slowest phase, then every step with the
/// time since the one before, on as many lines as `WIDTH` needs.
fn launch(s: &CitrixSession) -> Vec<String> {
    let l = &s.launch;
    if l.steps.is_empty() {
        return Vec::new();
    }
    let summary = launch_summary(l);
    let mut lines = vec![format!("{DETAIL}launch: {summary}")];
    let steps = l.steps.iter().enumerate().map(|(k, st)| match k {
        0 => format!("{} {}", st.step.name(), time_of_day_micros(st.at)),
        _ => format!("{} +{}", st.step.name(), round_trip(st.after_ms)),
    });
    let indent = format!("{DETAIL}  ");
    let mut line = indent.clone();
    for step in steps {
        if line.len() > indent.len() && line.len() + step.len() + 2 > WIDTH {
            lines.push(std::mem::replace(&mut line, indent.clone()));
        }
        if line.len() > indent.len() {
            line.push_str(", ");
        }
        line.push_str(&step);
    }
    lines.push(line);
    lines
}

/// The transport the session ended up on, with what the TLS or DTLS handshake showed, as
/// detail lines: "transport: CGP over TLS 1.2 (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256), SNI
/// vda.example" and "certificate: vda.example, valid 2025-06-01 to 2027-06-01, 2 SAN names".
fn transport(s: &CitrixSession) -> Vec<String> {
    let mut line = s.transport_text();
    let Some(h) = &s.tls else {
        return vec![format!("{DETAIL}transport: {line}")];
    };
    if let Some(sh) = &h.server_hello {
        line.push_str(&format!(" ({})", sh.cipher_suite));
    }
    if let Some(sni) = h.client_hello.as_ref().and_then(|c| c.sni.as_ref()) {
        line.push_str(&format!(", SNI {sni}"));
    }
    let mut lines = vec![format!("{DETAIL}transport: {line}")];
    if let Some(c) = &h.certificate {
        let name = c.common_name.as_ref().unwrap_or(&c.subject);
        lines.push(format!(
            "{DETAIL}certificate: {name}, valid {} to {}, {} SAN names",
            date(c.not_before),
            date(c.not_after),
            c.san_dns_count
        ));
    }
    lines
}

/// The busiest channels by bytes (both directions), as many as fit the line, and the rest.
fn channels(channels: &[ChannelUse]) -> String {
    let mut used: Vec<&ChannelUse> = channels
        .iter()
        .filter(|c| c.writes.iter().sum::<u64>() > 0)
        .collect();
    used.sort_by_key(|c| std::cmp::Reverse(c.bytes[0] + c.bytes[1]));
    let idle = channels.len() - used.len();
    if used.is_empty() {
        return match channels.len() {
            0 => "none bound, no writes decoded".to_string(),
            n => format!("{n} bound, no writes decoded (encrypted, compressed or unused)"),
        };
    }
    let parts: Vec<String> = used
        .iter()
        .take(TOP_CHANNELS)
        .map(|c| {
            let name = c
                .name
                .as_ref()
                .map_or(format!("#{}", c.channel), |n| clip(n.as_str(), 8));
            format!(
                "{name} {}/{} ({})",
                bytes(c.bytes[0]),
                bytes(c.bytes[1]),
                c.writes[0] + c.writes[1]
            )
        })
        .collect();
    let line = |shown: usize| {
        let mut line = parts[..shown].join(", ");
        let more = used.len() - shown;
        if more > 0 {
            line.push_str(&format!(" +{more} more"));
        }
        if idle > 0 {
            line.push_str(&format!("; {idle} idle"));
        }
        line
    };
    let room = WIDTH - DETAIL.len() - CHANNELS.len();
    // As many as fit (at least the busiest one).
    (1..=parts.len())
        .rev()
        .map(line)
        .find(|l| l.len() <= room)
        .unwrap_or_else(|| line(1))
}

/// `text` cut to `max` characters, the cut marked with "...".
pub(super) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max.saturating_sub(3)).collect();
    format!("{kept}...")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctxscope_dissectors::WireText;

    fn channel(name: &str, channel: u16, bytes: [u64; 2], writes: [u64; 2]) -> ChannelUse {
        ChannelUse {
            channel,
            name: Some(WireText::from_bytes(name.as_bytes())),
            writes,
            bytes,
        }
    }

    #[test]
    fn channels_are_listed_busiest_first_within_the_line() {
        let list = [
            channel("CTXLIC", 18, [40, 64], [1, 1]),
            channel("CTXTW", 9, [0, 8213], [0, 16]),
            channel("CTXCAM", 13, [0, 0], [0, 0]),
        ];
        assert_eq!(
            channels(&list),
            "CTXTW 0 B/8213 B (16), CTXLIC 40 B/64 B (2); 1 idle"
        );
        assert_eq!(
            channels(&list[2..]),
            "1 bound, no writes decoded (encrypted, compressed or unused)"
        );
        // Many busy channels: as many as fit, then a count.
        let many: Vec<ChannelUse> = (0..30)
            .map(|i| {
                channel(
                    &format!("CTXCH{i:02}"),
                    i,
                    [10_000 + u64::from(i), 0],
                    [3, 0],
                )
            })
            .collect();
        let line = channels(&many);
        assert!(
            line.starts_with("CTXCH29 10.0 kB/0 B (3), CTXCH28"),
            "{line}"
        );
        assert!(
            line.ends_with(", CTXCH27 10.0 kB/0 B (3) +27 more"),
            "{line}"
        );
        assert!(
            DETAIL.len() + CHANNELS.len() + line.len() <= WIDTH,
            "{line}"
        );
    }

    #[test]
    fn wire_text_is_cut_not_wrapped() {
        assert_eq!(clip("LT-SALES-045", NAME_CELL), "LT-SALES-045");
        assert_eq!(clip(&"x".repeat(30), 20), format!("{}...", "x".repeat(17)));
        assert_eq!(clip("", 5), "");
    }
}
