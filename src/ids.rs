//! The names every layer shares: which connection ([`FlowId`]) and which end of it
//! ([`Endpoint`]). A leaf: it imports nothing from the crate, so the flow table, the
//! classifier, the analysis and the model can all use it without depending on each other.

use serde::{Serialize, Serializer};
use std::fmt;
use std::net::IpAddr;

/// Flows are numbered from 1 in the order their first packet was seen.
pub type FlowId = u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl Endpoint {
    pub const fn new(ip: IpAddr, port: u16) -> Endpoint {
        Endpoint { ip, port }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

impl Serialize for Endpoint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
