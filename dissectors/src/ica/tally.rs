//! Counters of one direction's decoded commands and channel writes, keyed by the 1-byte code or
//! channel id.
//!
//! A session uses a handful of commands and channels, and every frame counts one of them: the
//! first few keys seen are kept inline, beside the direction's other state, so counting
//! touches memory the frame reader already has in cache. Only a direction that uses more keys
//! gets the full table of 256 (a few KB), so a connection's memory stays small and counting
//! never allocates more than that once.

use super::names;
use super::summary::{ChannelCount, CommandCount, PerDir};
use crate::text::WireText;

/// Keys kept inline before the full table is allocated.
const INLINE: usize = 8;

/// Counts by 1-byte key.
#[derive(Default)]
struct ByteKeyed<V> {
    keys: [u8; INLINE],
    values: [V; INLINE],
    /// Inline keys in use.
    len: u8,
    /// Every key's count, once more than [`INLINE`] keys were seen (the inline ones moved in).
    table: Option<Box<[V; 256]>>,
}

impl<V: Copy + Default> ByteKeyed<V> {
    fn entry(&mut self, key: u8) -> &mut V {
        let table = match self.table.take() {
            Some(table) => table,
            None => {
                let len = usize::from(self.len);
                if let Some(i) = self.keys[..len].iter().position(|&k| k == key) {
                    return &mut self.values[i];
                }
                if len < INLINE {
                    self.keys[len] = key;
                    self.values[len] = V::default();
                    self.len += 1;
                    return &mut self.values[len];
                }
                let mut table = Box::new([V::default(); 256]);
                for (&k, &v) in self.keys.iter().zip(&self.values) {
                    table[usize::from(k)] = v;
                }
                table
            }
        };
        &mut self.table.insert(table)[usize::from(key)]
    }

    /// `key`'s count (the default if never seen).
    fn get(&self, key: u8) -> V {
        if let Some(table) = &self.table {
            return table[usize::from(key)];
        }
        let len = usize::from(self.len);
        self.keys[..len]
            .iter()
            .position(|&k| k == key)
            .map_or_else(V::default, |i| self.values[i])
    }
}

/// The keys either direction may have counted, in order: every key once a direction has the
/// full table, otherwise the inline ones.
fn keys_of<V>(tallies: PerDir<&ByteKeyed<V>>) -> Vec<u8> {
    if tallies.to_server.table.is_some() || tallies.to_client.table.is_some() {
        return (0..=255).collect();
    }
    let inline = |t: &ByteKeyed<V>| t.keys[..usize::from(t.len)].to_vec();
    let mut keys = inline(tallies.to_server);
    keys.extend(inline(tallies.to_client));
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// One channel's writes and bytes side by side: a write touches one place, not two.
#[derive(Clone, Copy, Default)]
struct ChannelTally {
    writes: u64,
    bytes: u64,
}

/// One direction's commands by code and channel writes by channel id.
#[derive(Default)]
pub struct Tally {
    commands: ByteKeyed<u64>,
    channels: ByteKeyed<ChannelTally>,
}

impl Tally {
    pub fn command(&mut self, code: u8) {
        *self.commands.entry(code) += 1;
    }

    pub fn write(&mut self, channel: u8, payload: u16) {
        let c = self.channels.entry(channel);
        c.writes += 1;
        c.bytes += u64::from(payload);
    }

    /// The command table of both directions, codes seen only, by code.
    pub fn command_table(tallies: PerDir<&Tally>) -> Vec<CommandCount> {
        keys_of(tallies.map(|t| &t.commands))
            .into_iter()
            .filter_map(|code| {
                let count = PerDir {
                    to_server: tallies.to_server.commands.get(code),
                    to_client: tallies.to_client.commands.get(code),
                };
                (count.to_server + count.to_client > 0).then(|| CommandCount {
                    code,
                    name: names::command_name(code),
                    count,
                })
            })
            .collect()
    }

    /// The channel table of both directions, channels seen only, by id, named by `name_of`.
    pub fn channel_table(
        tallies: PerDir<&Tally>,
        name_of: impl Fn(u8) -> Option<WireText>,
    ) -> Vec<ChannelCount> {
        keys_of(tallies.map(|t| &t.channels))
            .into_iter()
            .filter_map(|channel| {
                let up = tallies.to_server.channels.get(channel);
                let down = tallies.to_client.channels.get(channel);
                let writes = PerDir {
                    to_server: up.writes,
                    to_client: down.writes,
                };
                (writes.to_server + writes.to_client > 0).then(|| ChannelCount {
                    channel,
                    name: name_of(channel),
                    writes,
                    bytes: PerDir {
                        to_server: up.bytes,
                        to_client: down.bytes,
                    },
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both<'a>(to_server: &'a Tally, to_client: &'a Tally) -> PerDir<&'a Tally> {
        PerDir {
            to_server,
            to_client,
        }
    }

    #[test]
    fn tables_list_only_what_was_seen() {
        let (mut up, mut down) = (Tally::default(), Tally::default());
        up.command(0x31);
        down.command(0x31);
        down.command(0x05);
        down.write(17, 300);
        down.write(17, 2);
        let commands = Tally::command_table(both(&up, &down));
        assert_eq!(commands.len(), 2);
        assert_eq!((commands[0].code, commands[0].name), (0x05, "TERMINATE"));
        assert_eq!(
            commands[1].count,
            PerDir {
                to_server: 1,
                to_client: 1
            }
        );
        let channels = Tally::channel_table(both(&up, &down), |c| {
            (c == 17).then(|| WireText::from_bytes(b"CTXCLIP"))
        });
        assert_eq!(channels.len(), 1);
        assert_eq!(channels[0].name.as_ref().unwrap().as_str(), "CTXCLIP");
        assert_eq!(channels[0].writes.to_client, 2);
        assert_eq!(channels[0].bytes.to_client, 302);
        assert_eq!(channels[0].bytes.to_server, 0);
    }

    #[test]
    fn counts_survive_the_move_to_the_full_table() {
        // Keys in a scrambled order, each counted `key % 7 + 1` times, interleaved, so that
        // keys counted before the table exists keep counting after it.
        let keys: Vec<u8> = (0..=255u8).map(|k| k.wrapping_mul(37)).collect();
        for distinct in [1, INLINE, INLINE + 1, 256] {
            let mut tally = Tally::default();
            for round in 0..7u8 {
                for &k in &keys[..distinct] {
                    if round <= k % 7 {
                        tally.command(k);
                        tally.write(k, u16::from(k));
                    }
                }
            }
            assert_eq!(tally.commands.table.is_some(), distinct > INLINE);
            let empty = Tally::default();
            let commands = Tally::command_table(both(&tally, &empty));
            let channels = Tally::channel_table(both(&tally, &empty), |_| None);
            assert_eq!(commands.len(), distinct);
            assert_eq!(channels.len(), distinct);
            assert!(commands.windows(2).all(|w| w[0].code < w[1].code));
            for (c, ch) in commands.iter().zip(&channels) {
                let times = u64::from(c.code % 7 + 1);
                assert_eq!((c.count.to_server, c.count.to_client), (times, 0));
                assert_eq!(ch.writes.to_server, times);
                assert_eq!(ch.bytes.to_server, times * u64::from(ch.channel));
            }
        }
    }
}
