//! A line of items that degrades by priority when the terminal is narrow: the least important
//! item is shortened (if it has a short form) or left out first; items that must stay are
//! only shortened, and text that may be cut is cut with an ellipsis. The status bar is made of
//! two such lines.

use crate::tui::text::ellipsize;
use ratatui::text::{Line, Span};

/// Between items.
pub const SEP: &str = " │ ";

pub struct Item {
    spans: Vec<Span<'static>>,
    short: Option<Vec<Span<'static>>>,
    /// Higher goes first.
    rank: u8,
    /// Never left out (only shortened or cut).
    keep: bool,
    /// Its last span may be cut with an ellipsis.
    cut: bool,
    /// Follows the previous item after a space instead of a separator.
    glued: bool,
    /// Drawn to the width it is given, right-aligned at the end of the line.
    fill: Option<Fill>,
}

/// A graphic (the rate's sparkline) that takes what room is left, between two widths.
pub struct Fill {
    pub min: usize,
    pub max: usize,
    pub draw: Box<dyn Fn(usize) -> Span<'static>>,
}

impl Item {
    /// An item left out when there is no room; higher `rank` goes first.
    pub fn new(rank: u8, spans: Vec<Span<'static>>) -> Item {
        Item {
            spans,
            short: None,
            rank,
            keep: false,
            cut: false,
            glued: false,
            fill: None,
        }
    }

    /// An item that stays whatever the width (shortened or cut at the most).
    pub fn kept(rank: u8, spans: Vec<Span<'static>>) -> Item {
        Item {
            keep: true,
            ..Item::new(rank, spans)
        }
    }

    /// A graphic after the other items, a space away.
    pub fn fill(rank: u8, fill: Fill) -> Item {
        Item {
            fill: Some(fill),
            glued: true,
            ..Item::new(rank, Vec::new())
        }
    }

    /// What it becomes before it is left out.
    pub fn short(mut self, spans: Vec<Span<'static>>) -> Item {
        self.short = Some(spans);
        self
    }

    /// Its last span may be cut with an ellipsis, down to a few characters.
    pub fn cut(mut self) -> Item {
        self.cut = true;
        self
    }

    pub fn glued(mut self) -> Item {
        self.glued = true;
        self
    }

    fn width(&self) -> usize {
        match &self.fill {
            Some(f) => f.min,
            None => self.spans.iter().map(Span::width).sum(),
        }
    }

    fn gap(&self, sep: &str) -> usize {
        if self.glued { 1 } else { sep.chars().count() }
    }
}

/// Shortest a cut item becomes.
const MIN_CUT: usize = 6;

/// Fits `items` into `width` columns (after a leading space), [`SEP`] between them.
pub fn fit(items: Vec<Item>, width: usize) -> Line<'static> {
    fit_with(items, width, SEP, " ")
}

/// Fits `items` into `width` columns, after `lead` and with `sep` between them.
pub fn fit_with(
    mut items: Vec<Item>,
    width: usize,
    sep: &'static str,
    lead: &'static str,
) -> Line<'static> {
    let width = width.saturating_sub(lead.chars().count());
    let total = |items: &[Item]| -> usize {
        items
            .iter()
            .enumerate()
            .map(|(i, it)| it.width() + if i == 0 { 0 } else { it.gap(sep) })
            .sum()
    };
    // Shorten or leave out, least important first (the later of equals first).
    while total(&items) > width {
        let candidate = items
            .iter()
            .enumerate()
            .filter(|(_, it)| it.short.is_some() || !it.keep)
            .max_by_key(|&(i, it)| (it.rank, i))
            .map(|(i, _)| i);
        let Some(i) = candidate else { break };
        match items[i].short.take() {
            Some(short) => items[i].spans = short,
            None => drop(items.remove(i)),
        }
    }
    // Cut what may be cut, the later items first.
    let mut over = total(&items).saturating_sub(width);
    for it in items.iter_mut().rev().filter(|it| it.cut) {
        if over == 0 {
            break;
        }
        let Some(last) = it.spans.last_mut() else {
            continue;
        };
        let w = last.width();
        let to = w.saturating_sub(over).max(MIN_CUT.min(w));
        over -= w - to;
        last.content = ellipsize(&last.content, to).into_owned().into();
    }
    let spare = width.saturating_sub(total(&items));
    let mut spans = vec![Span::raw(lead)];
    for (i, it) in items.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(if it.glued { " " } else { sep }));
        }
        match it.fill {
            Some(f) => {
                let room = f.min + spare;
                let drawn = (f.draw)(room.min(f.max));
                // Right-aligned: the room it does not take goes before it.
                let pad = room.saturating_sub(drawn.width());
                if pad > 0 {
                    spans.push(Span::raw(" ".repeat(pad)));
                }
                spans.push(drawn);
            }
            None => spans.extend(it.spans),
        }
    }
    // Still too wide (a terminal a few columns wide): cut the line itself.
    let line = Line::from(spans);
    let full = width + lead.chars().count();
    if line.width() > full {
        return super::clip::clip(line, 0, full);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::text::ELLIPSIS;

    fn items() -> Vec<Item> {
        vec![
            Item::kept(0, vec![Span::raw("capture-of-the-farm.pcap")]).cut(),
            Item::new(6, vec![Span::raw("2026-01-15 09:00:00 +5m46s")])
                .short(vec![Span::raw("+5m46s")]),
            Item::kept(0, vec![Span::raw("595 pkts")]),
            Item::new(4, vec![Span::raw("103.6 kB")]).glued(),
            Item::kept(1, vec![Span::raw("2 pkt/s")]),
            Item::new(3, vec![Span::raw("2.4 kbit/s")]).glued(),
            Item::fill(
                2,
                Fill {
                    min: 5,
                    max: 10,
                    draw: Box::new(|w| Span::raw("#".repeat(w))),
                },
            ),
        ]
    }

    #[test]
    fn everything_when_it_fits_with_the_graphic_at_its_widest() {
        let line = fit(items(), 120);
        assert_eq!(
            line.to_string(),
            format!(
                " capture-of-the-farm.pcap │ 2026-01-15 09:00:00 +5m46s │ 595 pkts 103.6 kB │ 2 pkt/s 2.4 kbit/s{}##########",
                " ".repeat(15)
            )
        );
        assert_eq!(line.width(), 120);
    }

    #[test]
    fn the_least_important_goes_first_and_kept_items_stay() {
        // The date shortens first, then goes; the graphic takes the room left.
        let line = fit(items(), 81);
        assert_eq!(
            line.to_string(),
            " capture-of-the-farm.pcap │ +5m46s │ 595 pkts 103.6 kB │ 2 pkt/s 2.4 kbit/s #####"
        );
        let line = fit(items(), 80);
        assert_eq!(
            line.to_string(),
            " capture-of-the-farm.pcap │ 595 pkts 103.6 kB │ 2 pkt/s 2.4 kbit/s    ##########"
        );
        assert_eq!(line.width(), 80);
        let line = fit(items(), 50);
        assert_eq!(
            line.to_string(),
            " capture-of-the-farm.pcap │ 595 pkts │ 2 pkt/s"
        );
        // Then the kept text is cut, with an ellipsis.
        let line = fit(items(), 30);
        assert_eq!(line.to_string(), " capture… │ 595 pkts │ 2 pkt/s");
        let line = fit(items(), 10);
        assert_eq!(line.width(), 10);
        assert!(line.to_string().ends_with(ELLIPSIS));
    }
}
