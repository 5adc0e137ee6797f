//! The channels of one connection: a small bounded table keyed by channel id.

use super::event::Channel;

/// Channels tracked per connection. A session normally has a handful.
pub const MAX_CHANNELS: usize = 64;

#[derive(Debug, Default)]
pub struct ChannelTable {
    rows: Vec<Channel>,
    /// Index of the row used last: data comes in long runs on one channel.
    last: usize,
    /// The channel DATA_REALTIME messages belong to.
    pub realtime: Option<u16>,
}

impl ChannelTable {
    pub fn rows(&self) -> &[Channel] {
        &self.rows
    }

    pub fn get_mut(&mut self, id: u16) -> Option<&mut Channel> {
        if self.rows.get(self.last).is_none_or(|row| row.id != id) {
            self.last = self.rows.iter().position(|row| row.id == id)?;
        }
        self.rows.get_mut(self.last)
    }

    /// The row of `id`, added (unopened) if there is room; `None` when the table is full.
    pub fn get_or_add(&mut self, id: u16) -> Option<&mut Channel> {
        if self.get_mut(id).is_none() {
            if self.rows.len() >= MAX_CHANNELS {
                return None;
            }
            self.rows.push(Channel::unopened(id));
            self.last = self.rows.len() - 1;
        }
        self.rows.get_mut(self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_found_added_and_bounded() {
        let mut t = ChannelTable::default();
        t.get_or_add(2).unwrap().closed = true;
        t.get_or_add(5).unwrap();
        assert!(t.get_mut(2).unwrap().closed);
        assert!(!t.get_mut(5).unwrap().closed);
        assert!(t.get_mut(7).is_none());
        let refused = (0..200u16).filter(|&id| t.get_or_add(id).is_none()).count();
        assert_eq!(t.rows().len(), MAX_CHANNELS);
        // 2 and 5 were there already, 62 more fit, the other 136 ids were refused.
        assert_eq!(refused, 200 - MAX_CHANNELS);
        // Existing rows stay reachable when full.
        assert!(t.get_or_add(5).is_some());
    }
}
