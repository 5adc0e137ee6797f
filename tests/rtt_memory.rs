//! A day-long connection costs the memory of a minute-long one: a connection fed a day of
//! request/response traffic (one exchange a second, the RTT jittering on both sides) holds
//! exactly as many heap bytes after the day as after its first minute, RTT summaries included.
//!
//! The heap is measured by a counting allocator, for this test's thread only (its own binary,
//! so nothing else runs beside it).

use ctxscope::reassembly::{Segment, TcpConn, TcpFlags};
use ctxscope_dissectors::{Dir, Timestamp};
use std::time::Duration;

#[path = "common/counting.rs"]
mod counting;

use counting::live;

const ACK: TcpFlags = TcpFlags::ACK;
const PSH_ACK: TcpFlags = TcpFlags::PSH.union(TcpFlags::ACK);

/// One side of the capture: sends segments and counts the sequence space.
struct Wire {
    conn: TcpConn,
    next: [u32; 2],
}

impl Wire {
    fn send(&mut self, dir: Dir, at: i64, flags: TcpFlags, payload: &[u8]) {
        let seg = Segment {
            ts: Timestamp::from_nanos(at),
            seq: self.next[dir.index()],
            ack: self.next[dir.reverse().index()],
            flags,
            window: 65535,
            payload,
            truncated: 0,
        };
        self.conn.segment(dir, &seg, &mut |_, _| {});
        let len = payload.len() as u32 + u32::from(flags.is_syn());
        self.next[dir.index()] = self.next[dir.index()].wrapping_add(len);
    }
}

#[test]
fn a_day_long_connection_holds_what_a_minute_long_one_does() {
    let start = live();
    let mut wire = Wire {
        conn: TcpConn::default(),
        next: [1000, 5000],
    };
    let (c, s) = (Dir::ToServer, Dir::ToClient);
    let mut at = 1_768_467_600_000_000_000i64;
    wire.send(c, at, TcpFlags::SYN, b"");
    wire.send(s, at + 1_000_000, TcpFlags::SYN | ACK, b"");
    wire.send(c, at + 2_000_000, ACK, b"");
    let (request, response) = ([b'q'; 40], [b'r'; 900]);
    let mut after_a_minute = None;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for second in 0..24 * 3600 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        // Server side 1-5 ms, client side 20-120 ms.
        let server_side = 1_000_000 + (rng % 4_000_000) as i64;
        let client_side = 20_000_000 + (rng >> 32) as i64 % 100_000_000;
        at += 1_000_000_000;
        wire.send(c, at, PSH_ACK, &request);
        wire.send(s, at + server_side, PSH_ACK, &response);
        wire.send(c, at + server_side + client_side, ACK, b"");
        if second == 60 {
            after_a_minute = Some(live() - start);
        }
    }
    let after_a_day = live() - start;
    assert_eq!(Some(after_a_day), after_a_minute, "heap bytes held");
    let client = wire.conn.rtt(c).expect("client-side samples");
    let server = wire.conn.rtt(s).expect("server-side samples");
    assert_eq!(
        client.sketch().count(),
        24 * 3600 + 1,
        "with the handshake's"
    );
    assert_eq!(server.sketch().count(), 24 * 3600 + 1);
    let median =
        |side: &ctxscope::reassembly::SideRtt| side.sketch().quantile(0.5).unwrap_or_default();
    let near = |d: Duration, ms: f64| (d.as_secs_f64() * 1e3 - ms).abs() < ms * 0.05;
    assert!(near(median(&client), 70.0), "{:?}", median(&client));
    assert!(near(median(&server), 3.0), "{:?}", median(&server));
    println!("heap held by the connection: {after_a_day} bytes, after a minute and after a day");
}
