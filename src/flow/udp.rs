//! What a UDP flow keeps beside the counters every flow has: payload per direction, and the
//! state and history letters Zeek gives a UDP connection.

use crate::model::DirCounters;
use ctxscope_dissectors::Dir;

/// The datagrams of one UDP flow, per direction ([`Dir::index`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UdpConn {
    /// Payload bytes the datagrams announced (captured plus cut off by the snaplen).
    payload_bytes: [u64; 2],
    /// Payload bytes captured, handed to the dissector.
    delivered_bytes: [u64; 2],
    /// Zeek's history: `D` the client sent payload, `d` the server did, in the order first seen.
    history: History,
}

/// At most two letters, so held inline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct History {
    letters: [u8; 2],
    len: u8,
}

impl UdpConn {
    /// One datagram of `captured` payload bytes, `cut` more lost to the snaplen.
    pub fn datagram(&mut self, dir: Dir, captured: usize, cut: u32) {
        let i = dir.index();
        let captured = captured as u64;
        self.delivered_bytes[i] += captured;
        self.payload_bytes[i] += captured + u64::from(cut);
        if captured + u64::from(cut) > 0 {
            let letter = match dir {
                Dir::ToServer => b'D',
                Dir::ToClient => b'd',
            };
            self.history.push(letter);
        }
    }

    /// Zeek's `conn_state` for UDP, from whether each side sent anything: `SF` both, `S0` only
    /// the client, `SHR` only the server, `OTH` neither (a flow of empty datagrams is told by
    /// its packet counts, which the caller has).
    pub fn state(sent: [bool; 2]) -> &'static str {
        match sent {
            [true, true] => "SF",
            [true, false] => "S0",
            [false, true] => "SHR",
            [false, false] => "OTH",
        }
    }

    pub fn history(&self) -> &str {
        self.history.as_str()
    }

    /// The counters of one direction as a flow record shows them: only the payload ones count
    /// on a UDP flow; the TCP ones stay zero.
    pub fn counters(&self, dir: Dir) -> DirCounters {
        let i = dir.index();
        DirCounters {
            payload_bytes: self.payload_bytes[i],
            delivered_bytes: self.delivered_bytes[i],
            ..DirCounters::default()
        }
    }
}

impl History {
    fn push(&mut self, letter: u8) {
        let len = usize::from(self.len);
        if self.letters[..len].contains(&letter) || len == self.letters.len() {
            return;
        }
        self.letters[len] = letter;
        self.len += 1;
    }

    fn as_str(&self) -> &str {
        // Only the ASCII letters `D` and `d` are ever pushed.
        std::str::from_utf8(&self.letters[..usize::from(self.len)]).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_history_and_state() {
        let mut u = UdpConn::default();
        assert_eq!(u.history(), "");
        u.datagram(Dir::ToClient, 0, 0); // empty: no letter
        u.datagram(Dir::ToServer, 100, 20);
        u.datagram(Dir::ToServer, 50, 0);
        u.datagram(Dir::ToClient, 7, 0);
        assert_eq!(u.history(), "Dd");
        let c = u.counters(Dir::ToServer);
        assert_eq!(
            (c.payload_bytes, c.delivered_bytes, c.segments),
            (170, 150, 0)
        );
        assert_eq!(u.counters(Dir::ToClient).delivered_bytes, 7);
        assert_eq!(UdpConn::state([true, true]), "SF");
        assert_eq!(UdpConn::state([true, false]), "S0");
        assert_eq!(UdpConn::state([false, true]), "SHR");
        assert_eq!(UdpConn::state([false, false]), "OTH");
    }
}
