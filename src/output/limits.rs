//! Every cap and loss the engine counts, said once: the text report lists those hit, and the
//! sensor's metrics export each one under its key.

use crate::capture::MAX_PCAPNG_INTERFACES;
use crate::model::{CaptureStats, LimitStats, RTT_SEGMENTS_PER_DIRECTION};

/// What one cap or loss cost so far.
pub struct LimitHit {
    /// Where the JSON outputs carry the number (`limits.*`, `capture.ipv4_fragments.*`).
    pub key: &'static str,
    /// What it counts, and the setting or bound behind it.
    pub what: String,
    pub count: u64,
}

/// All of them, hit or not, in the text report's order.
pub fn limit_hits(l: &LimitStats, capture: &CaptureStats) -> Vec<LimitHit> {
    let t = &l.flow_table;
    let frag = &capture.ipv4_fragments;
    let hit = |key, what: &str, count| LimitHit {
        key,
        what: what.to_string(),
        count,
    };
    vec![
        hit(
            "limits.flow_table.rejected_at_cap",
            &format!(
                "connections not tracked, {} packets (limits.max_flows)",
                t.packets_untracked
            ),
            t.rejected_at_cap,
        ),
        hit(
            "limits.flow_records_dropped",
            "flow records not kept (limits.max_flow_records)",
            l.flow_records_dropped,
        ),
        hit(
            "limits.events_dropped",
            "events not kept (limits.max_events_per_flow, max_events_total)",
            l.events_dropped,
        ),
        hit(
            "limits.findings_dropped",
            "findings not kept (limits.max_findings)",
            l.findings_dropped,
        ),
        hit(
            "limits.announcements.dropped",
            "announcements dropped (limits.max_announcements)",
            l.announcements.dropped,
        ),
        hit(
            "limits.sessions_dropped",
            "licensing sessions and heartbeat series not kept (limits.max_sessions)",
            l.sessions_dropped,
        ),
        hit(
            "limits.scan_sources_dropped",
            "sources forgotten by the scan detector before their window ended (limits.max_scan_sources)",
            l.scan_sources_dropped,
        ),
        hit(
            "limits.reassembly_cap_flushes",
            "out-of-order store flushes (limits.reassembly_bytes_per_direction, reassembly_segments_per_direction)",
            l.reassembly_cap_flushes,
        ),
        hit(
            "limits.unacked_released_bytes",
            "bytes left the retransmission check unacknowledged (limits.unacked_bytes_per_direction)",
            l.unacked_released_bytes,
        ),
        hit(
            "limits.rtt_untracked_segments",
            &format!(
                "segments not timed for the RTT ({RTT_SEGMENTS_PER_DIRECTION} of their direction already awaiting their ACK)"
            ),
            l.rtt_untracked_segments,
        ),
        hit(
            "limits.reassembly_budget_flushes",
            "reassembly budget flushes (limits.reassembly_bytes_total)",
            l.reassembly_budget_flushes,
        ),
        hit(
            "capture.ipv4_fragments.datagrams_evicted",
            "IPv4 datagrams given up with fragments missing (limits.max_fragmented_datagrams)",
            frag.datagrams_evicted,
        ),
        hit(
            "capture.ipv4_fragments.datagrams_timed_out",
            "IPv4 datagrams timed out with fragments missing (timeouts.ip_fragment_secs)",
            frag.datagrams_timed_out,
        ),
        hit(
            "capture.ipv4_fragments.fragments_refused",
            "IPv4 fragments refused (past 64 KiB, more than 64 pieces, or inconsistent)",
            frag.fragments_refused,
        ),
        hit(
            "limits.pcapng_interfaces_refused",
            &format!("pcapng interfaces refused (more than {MAX_PCAPNG_INTERFACES} in a section)"),
            l.pcapng_interfaces_refused,
        ),
        hit(
            "limits.edt_attempts_dropped",
            "EDT flows not followed for a fallback (limits.max_edt_attempts)",
            l.edt_attempts_dropped,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Every key names the number of the JSON report that the hit counts.
    #[test]
    fn every_key_is_where_the_json_report_has_the_count() {
        let mut l = LimitStats::default();
        let mut c = CaptureStats::default();
        let counts = [
            &mut l.flow_table.rejected_at_cap,
            &mut l.flow_records_dropped,
            &mut l.events_dropped,
            &mut l.findings_dropped,
            &mut l.announcements.dropped,
            &mut l.sessions_dropped,
            &mut l.scan_sources_dropped,
            &mut l.reassembly_cap_flushes,
            &mut l.unacked_released_bytes,
            &mut l.rtt_untracked_segments,
            &mut l.reassembly_budget_flushes,
            &mut c.ipv4_fragments.datagrams_evicted,
            &mut c.ipv4_fragments.datagrams_timed_out,
            &mut c.ipv4_fragments.fragments_refused,
            &mut l.pcapng_interfaces_refused,
            &mut l.edt_attempts_dropped,
        ];
        for (n, count) in counts.into_iter().enumerate() {
            *count = n as u64 + 1;
        }
        let json = serde_json::json!({
            "limits": serde_json::to_value(&l).expect("serialises"),
            "capture": serde_json::to_value(&c).expect("serialises"),
        });
        let hits = limit_hits(&l, &c);
        for h in &hits {
            let at = format!("/{}", h.key.replace('.', "/"));
            assert_eq!(json.pointer(&at), Some(&Value::from(h.count)), "{}", h.key);
        }
        let mut seen: Vec<u64> = hits.iter().map(|h| h.count).collect();
        seen.sort_unstable();
        assert_eq!(seen, (1..=16).collect::<Vec<u64>>(), "each count once");
    }
}
