//! Words for what a flow's summary shows that the text report and the TUI both say: an EDT
//! flow's datagram sizes and keep-alive cadence, the TLS or DTLS version of a handshake, why no
//! certificate shows, a certificate's dates, a session's launch. Said once here, so the two never say it differently
//! (session and licensing wording lives on the model types).

use super::units::{duration, round_trip};
use crate::model::Launch;
use ctxscope_dissectors::edt::{KeepAlive, Sizes};
use ctxscope_dissectors::tls::{self, Version};
use ctxscope_dissectors::{Dir, Timestamp};

/// `c>s`, `s>c`: a direction in a narrow cell.
pub fn dir_arrow(dir: Dir) -> &'static str {
    match dir {
        Dir::ToServer => "c>s",
        Dir::ToClient => "s>c",
    }
}

/// `20-1400 B`, `20 B` when all are the same size, `-` without datagrams.
pub fn sizes(s: &Sizes) -> String {
    match s.min {
        Some(min) if min == s.max => format!("{min} B"),
        Some(min) => format!("{min}-{} B", s.max),
        None => "-".into(),
    }
}

/// `c>s every 10.0 s (x6)`, `-` when no cadence shows.
pub fn keepalive(k: Option<&KeepAlive>) -> String {
    k.map_or("-".into(), |k| {
        format!(
            "{} every {} (x{})",
            dir_arrow(k.dir),
            duration(k.interval_median_ms as f64 / 1000.0),
            k.count
        )
    })
}

/// The version the server chose, or what the client offered when the server did not answer;
/// without a handshake (a DTLS flow picked up after it), the records' version, `record`.
pub fn tls_version(h: &tls::Handshake, record: Option<Version>) -> String {
    match (&h.server_hello, &h.client_hello, record) {
        (Some(sh), _, _) => sh.version.to_string(),
        (None, Some(ch), _) => format!("offered {}", ch.highest_offered()),
        (None, None, Some(v)) => format!("{v} (records)"),
        (None, None, None) => "-".into(),
    }
}

/// Why a handshake shows no certificate.
pub fn no_certificate(s: &tls::Summary) -> &'static str {
    let encrypted = s
        .handshake
        .server_hello
        .as_ref()
        .is_some_and(|sh| sh.version.is_13());
    match s.progress {
        _ if encrypted => "(encrypted in TLS 1.3)",
        tls::Progress::Abandoned => "(not read)",
        // No answer yet, or a DTLS flow picked up after its handshake (encrypted records only).
        _ if s.handshake.server_hello.is_none() => "(not seen)",
        tls::Progress::Complete => "(none sent)",
        tls::Progress::InProgress => "(not seen)",
    }
}

/// The day of a timestamp: "2027-06-01".
pub fn date(t: Timestamp) -> String {
    let full = t.to_string();
    full.get(..10).unwrap_or(&full).to_string()
}

/// A launch in a few words: "211 ms to the first screen, slowest phase to init_complete
/// (42 ms)", or "no first screen seen".
pub fn launch_summary(l: &Launch) -> String {
    match (l.duration_secs(), l.slowest()) {
        (Some(secs), Some(st)) => format!(
            "{} to the first screen, slowest phase to {} ({})",
            duration(secs),
            st.step.name(),
            round_trip(st.after_ms)
        ),
        _ => "no first screen seen".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_cadences_in_words() {
        let mut s = Sizes::default();
        assert_eq!(sizes(&s), "-");
        s.add(20);
        assert_eq!(sizes(&s), "20 B");
        s.add(1400);
        assert_eq!(sizes(&s), "20-1400 B");
        let k = KeepAlive {
            dir: Dir::ToServer,
            count: 6,
            interval_median_ms: 10_000,
            first: Timestamp::from_secs(0),
            last: Timestamp::from_secs(50),
        };
        assert_eq!(keepalive(Some(&k)), "c>s every 10.0 s (x6)");
        assert_eq!(keepalive(None), "-");
    }

    #[test]
    fn a_version_comes_from_the_server_then_the_client_then_the_records() {
        let none = tls::Handshake::default();
        assert_eq!(tls_version(&none, None), "-");
        assert_eq!(
            tls_version(&none, Some(Version(0xfeff))),
            "DTLS 1.0 (records)"
        );
        assert_eq!(date(Timestamp::from_secs(1_828_125_396)), "2027-12-06");
    }
}
