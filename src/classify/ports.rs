//! Port tables: which protocol a port is configured for, and forced decodes, one table per
//! transport.

use crate::config::{PortRange, Ports};
use ctxscope_dissectors::{Proto, Transport};
use std::cmp::Reverse;

/// One entry per port of one transport: lookups on the per-packet path are a single index.
/// An entry is one byte (the protocol's place in `protos` plus one, 0 for none), so that a
/// table is 64 KB and an engine is cheap to build.
pub struct PortTable {
    protos: Vec<Proto>,
    configured: Box<[u8]>,
    forced: Box<[u8]>,
}

impl PortTable {
    /// The ranges of `ports` of the protocols that run over `transport`, and the decodes forced
    /// on it. Where ranges overlap, the narrowest one wins (a single vendor-daemon port inside
    /// lmgrd's 27000-27009), and between equally narrow ones the protocol first in the registry.
    pub fn new(ports: &Ports, transport: Transport) -> PortTable {
        let on_transport = |proto: &Proto| proto.spec().transport == transport;
        let mut table = PortTable {
            protos: Vec::new(),
            configured: vec![0; 65536].into_boxed_slice(),
            forced: vec![0; 65536].into_boxed_slice(),
        };
        let mut ranges: Vec<(usize, Proto, PortRange)> = ports
            .iter()
            .filter(|(proto, _)| on_transport(proto))
            .flat_map(|(proto, ranges)| ranges.iter().map(move |&range| (proto, range)))
            .enumerate()
            .map(|(at, (proto, range))| (at, proto, range))
            .collect();
        // Written widest first, and among equally wide ones the registry's last first: what is
        // written last wins.
        ranges.sort_by_key(|&(at, _, range)| (Reverse(range.1 - range.0), Reverse(at)));
        for (_, proto, range) in ranges {
            let slot = table.slot(proto);
            table.configured[usize::from(range.0)..=usize::from(range.1)].fill(slot);
        }
        for (port, proto) in ports.decode_as() {
            if on_transport(&proto) {
                let slot = table.slot(proto);
                table.forced[usize::from(port)] = slot;
            }
        }
        table
    }

    /// The entry that stands for `proto`.
    fn slot(&mut self, proto: Proto) -> u8 {
        let at = match self.protos.iter().position(|&p| p == proto) {
            Some(at) => at,
            None => {
                self.protos.push(proto);
                self.protos.len() - 1
            }
        };
        u8::try_from(at + 1).expect("the registry has fewer than 255 protocols")
    }

    fn proto(&self, slot: u8) -> Option<Proto> {
        let at = usize::from(slot).checked_sub(1)?;
        self.protos.get(at).copied()
    }

    /// The protocol `port` is configured for in the port table.
    pub fn configured(&self, port: u16) -> Option<Proto> {
        self.proto(self.configured[usize::from(port)])
    }

    /// The protocol the user forced for `port` (`--decode-as`).
    pub fn forced(&self, port: u16) -> Option<Proto> {
        self.proto(self.forced[usize::from(port)])
    }

    /// Whether `port` is configured for the wire protocol of `proto` (lmgrd and vendor-daemon
    /// ports both count for FlexLM).
    pub fn is_configured_for(&self, port: u16, proto: Proto) -> bool {
        self.configured(port)
            .is_some_and(|p| p.wire() == proto.wire())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn default_table() {
        let config = Config::load(None, &["ports.decode_as.8080=ica".into()]).unwrap();
        let t = PortTable::new(&config.ports, Transport::Tcp);
        assert_eq!(t.configured(27000), Some(Proto::LMGRD));
        assert_eq!(t.configured(27009), Some(Proto::LMGRD));
        assert_eq!(t.configured(27010), None);
        assert_eq!(t.configured(7279), Some(Proto::VENDOR_DAEMON));
        assert_eq!(t.configured(1494), Some(Proto::ICA));
        assert_eq!(t.configured(2598), Some(Proto::CGP));
        assert_eq!(t.configured(2513), Some(Proto::IMA));
        assert_eq!(t.configured(8080), None);
        assert_eq!(t.forced(8080), Some(Proto::ICA));
        assert!(t.is_configured_for(7279, Proto::LMGRD));
        assert!(!t.is_configured_for(1494, Proto::CGP));
    }

    #[test]
    fn each_transport_has_its_own_table() {
        let config = Config::load(
            None,
            &[
                "ports.decode_as.8080=ica".into(),
                "ports.decode_as.udp/443=edt".into(),
                "ports.decode_as.443=cgp".into(),
            ],
        )
        .unwrap();
        let (tcp, udp) = (
            PortTable::new(&config.ports, Transport::Tcp),
            PortTable::new(&config.ports, Transport::Udp),
        );
        assert_eq!(tcp.configured(1494), Some(Proto::ICA));
        assert_eq!(udp.configured(1494), Some(Proto::EDT));
        assert_eq!(udp.configured(2598), Some(Proto::EDT));
        assert_eq!(udp.configured(2512), None);
        assert_eq!(
            (tcp.forced(8080), udp.forced(8080)),
            (Some(Proto::ICA), None)
        );
        assert_eq!(
            (tcp.forced(443), udp.forced(443)),
            (Some(Proto::CGP), Some(Proto::EDT))
        );
    }

    /// The hand-written order this replaces (broad ranges first, later entries win) put
    /// lmgrd's range under everything else: the widths say the same.
    #[test]
    fn the_narrowest_range_wins_then_the_registry_order() {
        let config = Config::load(
            None,
            &[
                "ports.vendor_daemon=[27003, 1494]".into(),
                "ports.ica=[\"2512-2513\", 1494, 27004]".into(),
                "ports.cgp=[1494, \"27005-27006\"]".into(),
            ],
        )
        .unwrap();
        let t = PortTable::new(&config.ports, Transport::Tcp);
        assert_eq!(t.configured(27002), Some(Proto::LMGRD));
        assert_eq!(t.configured(27003), Some(Proto::VENDOR_DAEMON));
        assert_eq!(t.configured(27004), Some(Proto::ICA));
        assert_eq!(t.configured(27006), Some(Proto::CGP));
        // Equally narrow: the first in the registry (lmgrd, vendor_daemon, ica, cgp, ima).
        assert_eq!(t.configured(1494), Some(Proto::VENDOR_DAEMON));
        assert_eq!(t.configured(2512), Some(Proto::ICA));
    }
}
