//! TCP stream reassembly: ordered bytes per direction, explicit gaps, and what each segment was.
//!
//! A [`TcpConn`] holds both directions of one connection (the caller decides the roles:
//! [`Dir::ToServer`](ctxscope_dissectors::Dir) is the client, Zeek's originator). Every
//! [`Segment`] goes through [`TcpConn::segment`], which hands in-order bytes of either direction
//! to a callback as [`Delivery::Data`] or [`Delivery::Gap`] and returns a [`SegmentInfo`] in
//! Wireshark's `tcp.analysis.*` terms. [`TcpConn::finish`] releases what is still held.
//!
//! # Sequence space
//!
//! Each direction maps 32-bit sequence numbers, by signed serial difference from its commit
//! point, onto 64-bit offsets that never wrap (`seq`). Offset 0 is the SYN; payload starts at 1.
//! A direction whose first segment (of any kind) is not a SYN starts at that segment: earlier
//! bytes are dropped, as tshark does. SYN and FIN consume one sequence number each; data on a
//! SYN is delivered.
//!
//! # Overlap policy
//!
//! One rule, the one tshark 4.0's `follow,tcp` applies: **bytes are committed in stream order,
//! one received segment at a time; when the commit point reaches a position, of the received
//! segments that start at or before it, the one that arrived first supplies everything it has
//! beyond the commit point, and every other copy of those bytes is dropped.**
//!
//! So bytes once delivered are final (a retransmission only adds its new tail); a segment
//! reaching the commit point when nothing is held is delivered whole, straight from the packet
//! (zero copy); among held copies the earliest arrival wins, except that a later copy starting
//! at or before the commit point beats an earlier one that starts after it. Output comes as one
//! `Data` per segment (its new part), which is also tshark's record granularity.
//!
//! [`SegmentInfo::OVERLAP_CONFLICT`] is set (and counted for the direction concerned) when
//! committed bytes differ from a held copy of the same range, when a new copy lies inside a
//! held one and differs from it, or when a copy overlaps delivered bytes the peer has not
//! acknowledged yet and differs from any of them. Every such byte is compared: as Zeek does for
//! its `rexmit_inconsistency`, delivered bytes are copied aside (`unacked`) until the peer's
//! ACK passes them, then given back. Bytes the peer acknowledged are not compared (a copy of
//! them is a spurious retransmission). The copy is bounded per direction
//! ([`Limits::max_unacked_bytes`]); bytes that leave it unacknowledged (the cap, a memory
//! budget via [`TcpConn::shed`], a gap after them) are counted in
//! [`crate::model::DirCounters::unacked_released_bytes`], since copies of them go unchecked; not
//! so at [`TcpConn::finish`], after which no copy can come.
//!
//! # Holes
//!
//! A hole becomes a `Gap(n)` (never allocated, never silently skipped):
//! - when the peer's ACK passes the start of held data beyond the hole (tshark's rule: an ACK
//!   past the commit point with nothing held releases nothing; the next segment then waits for
//!   an ACK passing it). tshark prints the record `[n bytes missing in capture file]` plus a NUL
//!   at exactly these points, with the same `n`;
//! - when the out-of-order store of a direction would exceed [`Limits`]: holes are given up from
//!   the lowest until the new segment fits ([`SegmentInfo::CAP_FLUSH`], `cap_flushes`);
//! - for payload bytes the capture cut off ([`Segment::truncated`]): right after the captured
//!   part. tshark skips those silently;
//! - at [`TcpConn::finish`]: every hole before held data, and missing bytes before a FIN. tshark
//!   prints nothing of what is still held when the capture ends.
//!
//! A late segment for a range already given up is not delivered (it is a retransmission).
//! Payload beyond a direction's FIN is not delivered (`beyond_fin_bytes`,
//! [`SegmentInfo::DATA_AFTER_FIN`]). RST payload is diagnostic text, not stream data. Segments
//! after a RST are still reassembled (tshark does too) and flagged
//! [`SegmentInfo::AFTER_RESET`].
//!
//! # tshark 4.0.17 `-z follow,tcp,raw`, case by case
//!
//! Measured on hand-made pcaps; each case is a test in `tests/tshark.rs` with the same segments.
//! Records are shown decoded, `/` between records, `\t` for server records, `[5 missing]` for
//! tshark's marker and `Gap(5)` for ours.
//!
//! | case | tshark | ours |
//! |---|---|---|
//! | reordered A C B | `AAAAA / BBBBB / CCCCC` | same |
//! | full retransmission | `hello / world` | same |
//! | partial retransmission `lloWORLD` | `hello / WORLD` | same |
//! | overlap, old data first (`ABCDEF`, then `xyzGHI` at 4) | `ABCDEF / GHI` | same, OVERLAP_CONFLICT |
//! | overlap, new data first (`xyzGHI` held, then `ABCDEF`) | `ABCDEF / GHI` | same, OVERLAP_CONFLICT |
//! | two held copies, same start | first arrival wins | same, OVERLAP_CONFLICT |
//! | held `aaaaa`@15, then `B`x20@10, then fill | `123456789 / B`x20 | same |
//! | held `a`x7@5 then `B`x10@10, then fill to 10 | `123456789 / aa / B`x8 | same |
//! | the same, arrival order swapped | `123456789 / B`x10 | same |
//! | tiny 1-byte segments | one record each | same |
//! | lost segment, ACKed past | `hello / [5 missing] / WORLD` | `hello / Gap(5) / WORLD` |
//! | lost segment, never ACKed | `hello` | `hello`; `Gap(5) / WORLD` at finish |
//! | ACK past the hole, nothing held yet | waits for an ACK past the next segment | same |
//! | ACK equal to the held start | `hello` | same |
//! | late copy of a gapped range | not printed | not delivered (spurious retransmission) |
//! | one ACK past two holes | two markers | two gaps |
//! | ISN 0xFFFFFFF0, data across 2^32, reordered | in order | same |
//! | data after FIN, ACKed | `hello / [1 missing] / AFTER` | `hello` (deliberate: data ends at the FIN) |
//! | keep-alives (0 and 1 byte at next-1, all acknowledged) | not printed | not delivered, KEEP_ALIVE |
//! | copy of the last byte at next-1 before its ACK | not printed (flagged keep_alive) | not delivered, RETRANSMISSION (deliberate) |
//! | data on the SYN | `syn-data / more` | same |
//! | 10-byte segment captured to 6 | `hello / 012345 / after` | `hello / 012345 / Gap(4) / after` |
//! | mid-stream pickup | starts at the first segment | same |
//! | first segment of a direction is a pure ACK | earlier data dropped | same |
//! | client data after the server's RST | delivered | same, AFTER_RESET |
//! | RST carrying payload | payload printed as data | not delivered (deliberate) |
//!
//! A `follow` command reproduces tshark's output by printing each `Data` as a record, the
//! marker for each `Gap` from an ACK, nothing for truncation or cap gaps, and nothing delivered
//! by `finish`. Checked this way, byte for byte, on 2,500 random captures (segments shuffled,
//! repeated, re-cut, overlapping with conflicting bytes, lost; arbitrary ACKs; keep-alives,
//! zero-window probes, RSTs, mid-stream pickups, sequence numbers across 2^32).
//!
//! # Stream depth
//!
//! Like Suricata's `stream.reassembly.depth`, but decided by the consumer: once the caller says
//! the connection's application needs no more payload ([`TcpConn::stop_payload`]), bytes are
//! accounted by their length alone. Nothing is delivered or copied (no out-of-order bytes, no
//! unacknowledged copy); holes, gaps, overlaps, caps, the per-segment analysis, the state and
//! history and the counters (`delivered_bytes` included: bytes that reached the commit point)
//! come out as they would have. Only the comparison of overlapping copies stops.
//!
//! # Per-segment analysis (Wireshark's names)
//!
//! `analysis` follows Wireshark 4.0's `tcp_analyze_sequence_number`: `lost_segment`, `keep_alive`,
//! `zero_window`, `zero_window_probe`, `duplicate_ack`, `ack_lost_segment`
//! ([`SegmentInfo::ACKED_UNSEEN`]), and for data below the highest sequence number seen
//! `spurious_retransmission`, `fast_retransmission`, `out_of_order` (within one handshake RTT, 3 ms
//! if unknown) or `retransmission`, in that precedence, with Wireshark's quirks (the "ACKed unseen"
//! marker that turns the next retransmission into a fast one). One deliberate difference: a
//! keep-alive must also come after the peer acknowledged everything before it (a probe's sequence
//! number is SND.UNA - 1), so a duplicated or re-cut last byte is a retransmission here, where
//! Wireshark calls it a keep-alive and heartbeat analysis would take it for one. On 150 random
//! captures (8,638 segments, 10 flags each) it disagreed with tshark 4.0.17 on 50 flag values
//! before that rule was added, most of them `ack_lost_segment` or `fast_retransmission` after
//! arbitrary ACKs. Window full/update and keep-alive ACKs are not reported.
//!
//! # ACK round trips
//!
//! Every segment also goes to `rtt`: Wireshark's `tcp.analysis.ack_rtt`, each ACK that ends
//! exactly where a waiting segment of the peer ends timing the round trip to its sender, kept
//! per side ([`TcpConn::rtt`]: the client's ACKs time the client side) in fixed memory.
//!
//! # Zeek's view
//!
//! [`TcpConn::state`] is Zeek's `conn_state` from its endpoint state machine; [`TcpConn::history`]
//! is Zeek's history string (see `history` for the letters). Its `T` follows Zeek's rule (payload
//! not advancing the highest sequence number: also out-of-order segments and 1-byte keep-alives),
//! not the `retransmission` flag above; `G` counts every gap delivered.
//!
//! # Cost
//!
//! An in-order segment with nothing held costs 25-35 ns of bookkeeping (release build on a
//! loaded 2-core machine; about half of it the Wireshark analysis) plus a copy of its payload
//! into the unacknowledged store: the whole engine is about 5% slower for it on the farm
//! benchmark. With no ACKs at all (a one-sided capture) the store stays full and each segment
//! also pushes the oldest bytes out, about 75 ns per 1460-byte segment. The store goes back
//! (to a small per-thread pool) whenever the peer has acknowledged everything, so an idle
//! connection keeps none. A `TcpConn` is about 570 bytes (the counters most connections leave
//! at zero are allocated with the first that is not); the out-of-order store allocates only
//! while something is out of order (one copy per held segment) and is sorted by start, so a
//! segment arriving out of order costs a binary search plus its neighbours: about 0.2 µs per
//! segment when every segment of a hostile flow forces a cap flush of a full store (2048
//! one-byte holes).

mod analysis;
mod conn;
mod counters;
mod half;
mod held;
mod history;
mod info;
mod payload;
mod rtt;
mod segment;
mod seq;
mod state;
mod unacked;

pub use conn::TcpConn;
pub use half::Limits;
pub use info::SegmentInfo;
pub use rtt::{MINUTES, Minute, RttSketch, RttTimeline, SideRtt};
pub use segment::{Delivery, Segment, TcpFlags};
pub use state::ConnState;

#[cfg(test)]
mod tests;
