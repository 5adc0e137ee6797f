use crate::model::Report;
use serde::Serialize;
use serde_json::ser::Formatter;
use std::io::{self, Write};

pub fn write_json(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, Pretty::default());
    report.serialize(&mut ser)?;
    writeln!(out)
}

/// A line break with the deepest indent written in one piece; shallower ones are its prefixes.
const LINE: &[u8] = b",\n                                                                ";

/// serde_json's `PrettyFormatter` layout (two spaces per level), byte for byte, with each line
/// break and its indent written at once: a farm's report has millions of lines, and the stock
/// formatter writes a comma, a newline and every level of indent separately.
#[derive(Default)]
struct Pretty {
    level: usize,
    has_value: bool,
}

impl Pretty {
    /// Goes to a new line at the current level, after a comma when `comma`.
    fn line<W: ?Sized + Write>(&self, out: &mut W, comma: bool) -> io::Result<()> {
        let line = if comma { LINE } else { &LINE[1..] };
        let mut indent = 2 * self.level;
        let at_once = indent.min(LINE.len() - 2);
        out.write_all(&line[..line.len() - (LINE.len() - 2) + at_once])?;
        indent -= at_once;
        // Deeper than the line holds (no report nests so deep): the rest of the indent.
        while indent > 0 {
            let n = indent.min(LINE.len() - 2);
            out.write_all(&LINE[2..2 + n])?;
            indent -= n;
        }
        Ok(())
    }

    fn open<W: ?Sized + Write>(&mut self, out: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        out.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, out: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.level -= 1;
        if self.has_value {
            self.line(out, false)?;
        }
        out.write_all(bracket)
    }
}

impl Formatter for Pretty {
    fn begin_array<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.open(out, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.close(out, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        self.line(out, !first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _out: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.open(out, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.close(out, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        self.line(out, !first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        out.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _out: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn pretty(value: &Value) -> String {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, Pretty::default());
        value.serialize(&mut ser).expect("in memory");
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    #[test]
    fn lays_out_as_serde_json_pretty_does() {
        let mut deep = json!({"leaf": [1, {}, [], "x"]});
        // Deeper than one line of indent holds.
        for level in 0..45 {
            deep = if level % 2 == 0 {
                json!([deep, level])
            } else {
                json!({"k": deep, "e": {}, "a": []})
            };
        }
        let samples = [
            json!(null),
            json!([]),
            json!({}),
            json!({"a": 1, "b": [true, null, "s\"\n"], "c": {"d": [], "e": {}}}),
            json!([[[]], [{}], {"x": [1, 2]}]),
            deep,
        ];
        for value in &samples {
            let stock = serde_json::to_string_pretty(value).expect("in memory");
            assert_eq!(pretty(value), stock);
        }
    }
}
