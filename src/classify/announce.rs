//! Ports announced on the wire: lmgrd tells a client on which TCP port its vendor daemon
//! listens. Connections from that client to that address and port are labelled before any
//! payload. Announcements are per client: after a daemon restart a whole farm is sent to the
//! same new port at once, and each server's connection must find its own handshake.
//!
//! An announcement stays until its wait is over, not only until the first connection: a
//! client whose first SYN is refused (the daemon still starting, a firewall rule being
//! changed) connects again to the same port, and the retry belongs to the same handshake.
//!
//! Announcements are bounded: at most a configured number wait at once (the oldest is dropped
//! and counted past that), and each waits only a limited time.

use crate::ids::FlowId;
use crate::model::AnnouncementStats;
use ctxscope_dissectors::{Proto, Timestamp};
use rustc_hash::FxHashMap;
use std::net::IpAddr;
use std::time::Duration;

/// A port lmgrd announced for a vendor daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    pub proto: Proto,
    /// The client lmgrd answered.
    pub client: IpAddr,
    pub server: IpAddr,
    pub port: u16,
    /// The vendor daemon's name (e.g. CITRIX), sanitised.
    pub vendor: Option<String>,
    /// The lmgrd connection that carried the announcement.
    pub parent: FlowId,
    pub announced_at: Timestamp,
}

/// An announcement and the connections that used it so far.
struct Waiting {
    announcement: Announcement,
    claims: u32,
}

pub struct Announcements {
    waiting: FxHashMap<(IpAddr, IpAddr, u16), Waiting>,
    cap: usize,
    timeout: Duration,
    stats: AnnouncementStats,
}

impl Announcements {
    pub fn new(cap: usize, timeout: Duration) -> Announcements {
        Announcements {
            waiting: FxHashMap::default(),
            cap: cap.max(1),
            timeout,
            stats: AnnouncementStats::default(),
        }
    }

    pub fn stats(&self) -> AnnouncementStats {
        self.stats
    }

    /// Registers an announcement; a newer one to the same client for the same address and port
    /// replaces it.
    pub fn register(&mut self, a: Announcement) {
        let key = (a.client, a.server, a.port);
        if !self.waiting.contains_key(&key) && self.waiting.len() >= self.cap {
            let oldest = self
                .waiting
                .iter()
                .min_by_key(|(_, w)| w.announcement.announced_at)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.waiting.remove(&k);
                self.stats.dropped += 1;
            }
        }
        self.stats.registered += 1;
        self.waiting.insert(
            key,
            Waiting {
                announcement: a,
                claims: 0,
            },
        );
    }

    /// The connection from `client` to `server:port` opened at `now`: the announcement it
    /// fulfils, if one is waiting. It stays for retries until its wait is over.
    pub fn claim(
        &mut self,
        client: IpAddr,
        server: IpAddr,
        port: u16,
        now: Timestamp,
    ) -> Option<Announcement> {
        if self.waiting.is_empty() {
            return None;
        }
        let key = (client, server, port);
        let w = self.waiting.get_mut(&key)?;
        if now.since(w.announcement.announced_at) > self.timeout {
            // Too late (the sweep has not removed it yet): no longer this handshake's.
            if w.claims == 0 {
                self.stats.expired += 1;
            }
            self.waiting.remove(&key);
            return None;
        }
        w.claims += 1;
        if w.claims == 1 {
            self.stats.claimed += 1;
        } else {
            self.stats.reclaimed += 1;
        }
        Some(w.announcement.clone())
    }

    /// Removes announcements whose wait is over; returns those nobody connected to.
    pub fn expire(&mut self, now: Timestamp) -> Vec<Announcement> {
        if self.waiting.is_empty() {
            return Vec::new();
        }
        let timeout = self.timeout;
        let over: Vec<(IpAddr, IpAddr, u16)> = self
            .waiting
            .iter()
            .filter(|(_, w)| now.since(w.announcement.announced_at) > timeout)
            .map(|(k, _)| *k)
            .collect();
        let mut out: Vec<Announcement> = over
            .iter()
            .filter_map(|k| self.waiting.remove(k))
            .filter(|w| w.claims == 0)
            .map(|w| w.announcement)
            .collect();
        out.sort_by_key(|a| (a.announced_at, a.port));
        self.stats.expired += out.len() as u64;
        out
    }

    /// Everything still waiting for a first connection (end of capture), oldest first.
    pub fn drain(&mut self) -> Vec<Announcement> {
        let mut out: Vec<Announcement> = self
            .waiting
            .drain()
            .filter(|(_, w)| w.claims == 0)
            .map(|(_, w)| w.announcement)
            .collect();
        out.sort_by_key(|a| (a.announced_at, a.port));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(port: u16, at: i64) -> Announcement {
        Announcement {
            proto: Proto::VENDOR_DAEMON,
            client: "10.0.0.21".parse().unwrap(),
            server: "10.0.0.5".parse().unwrap(),
            port,
            vendor: Some("CITRIX".into()),
            parent: 1,
            announced_at: Timestamp::from_secs(at),
        }
    }

    #[test]
    fn connections_claim_an_announcement_until_its_wait_is_over() {
        let mut t = Announcements::new(8, Duration::from_secs(60));
        t.register(ann(52011, 100));
        let (client, server) = ("10.0.0.21".parse().unwrap(), "10.0.0.5".parse().unwrap());
        let at = Timestamp::from_secs(101);
        assert_eq!(t.claim(client, server, 52012, at), None);
        let other: IpAddr = "10.0.0.99".parse().unwrap();
        assert_eq!(
            t.claim(other, server, 52011, at),
            None,
            "another client's connection"
        );
        assert_eq!(
            t.claim(client, server, 52011, at).map(|a| a.parent),
            Some(1)
        );
        // A retry (say, after an RST) within the wait belongs to the same handshake.
        let retry = Timestamp::from_secs(130);
        assert_eq!(
            t.claim(client, server, 52011, retry).map(|a| a.parent),
            Some(1)
        );
        assert_eq!((t.stats().claimed, t.stats().reclaimed), (1, 1));
        // When the wait is over it is gone, and not reported as never used.
        assert!(t.expire(Timestamp::from_secs(161)).is_empty());
        assert_eq!(
            t.claim(client, server, 52011, Timestamp::from_secs(162)),
            None
        );
        assert_eq!(t.stats().expired, 0);
    }

    #[test]
    fn clients_sent_to_the_same_port_keep_their_own_announcements() {
        let mut t = Announcements::new(8, Duration::from_secs(60));
        let server = "10.0.0.5".parse().unwrap();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.21".parse().unwrap(), "10.0.0.22".parse().unwrap());
        t.register(Announcement {
            client: a,
            parent: 1,
            ..ann(52011, 100)
        });
        t.register(Announcement {
            client: b,
            parent: 2,
            ..ann(52011, 101)
        });
        let at = Timestamp::from_secs(102);
        assert_eq!(t.claim(b, server, 52011, at).map(|x| x.parent), Some(2));
        assert_eq!(t.claim(a, server, 52011, at).map(|x| x.parent), Some(1));
    }

    #[test]
    fn late_connections_and_expiry() {
        let mut t = Announcements::new(8, Duration::from_secs(60));
        let (client, server) = ("10.0.0.21".parse().unwrap(), "10.0.0.5".parse().unwrap());
        t.register(ann(1, 100));
        assert_eq!(t.claim(client, server, 1, Timestamp::from_secs(200)), None);
        t.register(ann(2, 100));
        t.register(ann(3, 150));
        let gone = t.expire(Timestamp::from_secs(170));
        assert_eq!(gone.iter().map(|a| a.port).collect::<Vec<_>>(), vec![2]);
        assert_eq!(t.drain().len(), 1);
        assert_eq!(t.stats().expired, 2);
    }

    #[test]
    fn the_table_is_bounded() {
        let mut t = Announcements::new(2, Duration::from_secs(60));
        for p in 0..5 {
            t.register(ann(p, i64::from(p)));
        }
        assert_eq!(t.waiting.len(), 2);
        assert_eq!(t.stats().dropped, 3);
        assert_eq!(
            t.drain().iter().map(|a| a.port).collect::<Vec<_>>(),
            vec![3, 4]
        );
    }
}
