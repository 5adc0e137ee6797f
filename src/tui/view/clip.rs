//! Lines cut to a window of columns, with an ellipsis wherever text was cut: at the right edge
//! when the line goes on, at the left when the view was scrolled past its start.

use crate::tui::text::ELLIPSIS;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

/// Columns `skip..skip + width` of `line`, styles kept. A `…` replaces the last column shown
/// if the line goes on past it, and the first one if `skip` hid part of the line.
pub fn clip(line: Line<'static>, skip: usize, width: usize) -> Line<'static> {
    let total = line.width();
    if skip == 0 && total <= width {
        return line;
    }
    let (style, alignment) = (line.style, line.alignment);
    let end = skip + width;
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut col = 0;
    for span in line.spans {
        let mut text = String::new();
        for c in span.content.chars() {
            let w = c.width().unwrap_or(0);
            if col >= skip && col + w <= end {
                text.push(c);
            }
            col += w;
        }
        if !text.is_empty() {
            spans.push(Span::styled(text, span.style));
        }
    }
    if total > end {
        replace_edge(&mut spans, Edge::Right);
    }
    if skip > 0 && total > 0 {
        replace_edge(&mut spans, Edge::Left);
    }
    let mut out = Line::from(spans).style(style);
    out.alignment = alignment;
    out
}

/// The lines on screen of a pane scrolled `hscroll` columns sideways, cut to `width`;
/// `hscroll` is clamped so the longest of them still shows its end.
pub fn clip_sideways(
    lines: Vec<Line<'static>>,
    hscroll: &mut usize,
    width: usize,
) -> Vec<Line<'static>> {
    let longest = lines.iter().map(Line::width).max().unwrap_or(0);
    *hscroll = (*hscroll).min(longest.saturating_sub(width));
    lines
        .into_iter()
        .map(|l| clip(l, *hscroll, width))
        .collect()
}

enum Edge {
    Left,
    Right,
}

/// Puts an ellipsis in place of the character at one end of `spans` (in that span's style).
fn replace_edge(spans: &mut Vec<Span<'static>>, edge: Edge) {
    let at = match edge {
        Edge::Left => spans.iter().position(|s| !s.content.is_empty()),
        Edge::Right => spans.iter().rposition(|s| !s.content.is_empty()),
    };
    let Some(i) = at else {
        return;
    };
    let mut text: Vec<char> = spans[i].content.chars().collect();
    match edge {
        Edge::Left => {
            let first = text.remove(0);
            text.insert(0, ELLIPSIS);
            // A wide character leaves a column for a space.
            if first.width().unwrap_or(0) > 1 {
                text.insert(1, ' ');
            }
        }
        Edge::Right => {
            let last = text.pop().unwrap_or(' ');
            if last.width().unwrap_or(0) > 1 {
                text.push(' ');
            }
            text.push(ELLIPSIS);
        }
    }
    spans[i].content = text.into_iter().collect::<String>().into();
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Style;

    #[test]
    fn a_line_that_fits_is_left_alone() {
        let line = Line::from(vec![Span::raw("ab"), Span::raw("cd")]);
        assert_eq!(clip(line.clone(), 0, 4), line);
    }

    #[test]
    fn cut_ends_show_an_ellipsis_and_keep_styles() {
        let line = Line::from(vec![
            Span::styled("  03:13:00 ", Style::new().dim()),
            Span::raw("ica init_request name=WFICA32"),
        ]);
        let cut = clip(line.clone(), 0, 20);
        assert_eq!(cut.to_string(), "  03:13:00 ica init…");
        assert_eq!(cut.width(), 20);
        assert_eq!(cut.spans[0].style, Style::new().dim());
        // Scrolled right: the start is gone, and so marked.
        let scrolled = clip(line.clone(), 11, 20);
        assert_eq!(scrolled.to_string(), "…ca init_request na…");
        let end = clip(line, 30, 20);
        assert_eq!(end.to_string(), "…e=WFICA32");
    }
}
