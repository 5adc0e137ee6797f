//! Port table: which protocol a TCP port is configured for, and forced decodes.

use crate::config::Ports;
use ctxscope_dissectors::Proto;

/// One byte per TCP port: lookups on the per-packet path are a single index.
pub struct PortTable {
    configured: Box<[Option<Proto>]>,
    forced: Box<[Option<Proto>]>,
}

impl PortTable {
    pub fn new(ports: &Ports, decode_as: &[(u16, Proto)]) -> PortTable {
        let mut configured = vec![None; 65536].into_boxed_slice();
        // Later entries win; list the broad ranges first so a specific port can override them.
        for proto in [
            Proto::Lmgrd,
            Proto::Ima,
            Proto::Cgp,
            Proto::Ica,
            Proto::VendorDaemon,
        ] {
            for range in ports.of(proto) {
                for p in range.ports() {
                    configured[usize::from(p)] = Some(proto);
                }
            }
        }
        let mut forced = vec![None; 65536].into_boxed_slice();
        for &(port, proto) in decode_as {
            forced[usize::from(port)] = Some(proto);
        }
        PortTable { configured, forced }
    }

    /// The protocol `port` is configured for in the port table.
    pub fn configured(&self, port: u16) -> Option<Proto> {
        self.configured[usize::from(port)]
    }

    /// The protocol the user forced for `port` (`--decode-as`).
    pub fn forced(&self, port: u16) -> Option<Proto> {
        self.forced[usize::from(port)]
    }

    /// Whether `port` is configured for the wire protocol of `proto` (lmgrd and vendor-daemon
    /// ports both count for FlexLM).
    pub fn is_configured_for(&self, port: u16, proto: Proto) -> bool {
        self.configured(port)
            .is_some_and(|p| p.same_wire_protocol(proto))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn default_table() {
        let t = PortTable::new(&Config::default().ports, &[(8080, Proto::Ica)]);
        assert_eq!(t.configured(27000), Some(Proto::Lmgrd));
        assert_eq!(t.configured(27009), Some(Proto::Lmgrd));
        assert_eq!(t.configured(27010), None);
        assert_eq!(t.configured(7279), Some(Proto::VendorDaemon));
        assert_eq!(t.configured(1494), Some(Proto::Ica));
        assert_eq!(t.configured(2598), Some(Proto::Cgp));
        assert_eq!(t.configured(2513), Some(Proto::Ima));
        assert_eq!(t.configured(8080), None);
        assert_eq!(t.forced(8080), Some(Proto::Ica));
        assert!(t.is_configured_for(7279, Proto::Lmgrd));
        assert!(!t.is_configured_for(1494, Proto::Cgp));
    }
}
