//! Sizes in bytes as people write them: `150M`, `2G`, `512K`, `64MiB` or a plain integer.
//! Units are powers of 1024, as for memory (Suricata's memcaps read them so too).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A number of bytes; read from an integer or a string with a unit, written as an integer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

impl Size {
    pub const fn mib(n: u64) -> Size {
        Size(n << 20)
    }

    /// The size as a count of bytes in memory (saturating on a 32-bit machine).
    pub fn bytes(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }

    /// `"1500"`, `"64K"`, `"150M"`, `"2G"`, `"1T"`, with an optional `B` or `iB` after the
    /// unit; case and spaces between number and unit do not matter.
    pub fn parse(text: &str) -> Result<Size, String> {
        let s = text.trim();
        let lower = s.to_ascii_lowercase();
        let without_b = lower
            .strip_suffix("ib")
            .or_else(|| lower.strip_suffix('b'))
            .unwrap_or(&lower);
        let (digits, unit) = match without_b.char_indices().last() {
            Some((i, unit)) if unit.is_ascii_alphabetic() => (&without_b[..i], Some(unit)),
            _ => (without_b, None),
        };
        // The number first: "lots" is no size rather than a size in an unknown unit.
        let n: u64 = digits
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not a size (like 1500, 512K, 64M or 2G)"))?;
        let shift = match unit {
            None => 0,
            Some('k') => 10,
            Some('m') => 20,
            Some('g') => 30,
            Some('t') => 40,
            Some(_) => return Err(format!("{text:?}: unknown unit (use K, M, G or T)")),
        };
        n.checked_mul(1 << shift)
            .map(Size)
            .ok_or_else(|| format!("{text:?} is too large"))
    }
}

impl fmt::Display for Size {
    /// The largest unit that divides the size: `150M`, `1536K`, `1000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = [(40, "T"), (30, "G"), (20, "M"), (10, "K")];
        match units
            .iter()
            .find(|&&(shift, _)| self.0 != 0 && self.0.trailing_zeros() >= shift)
        {
            Some(&(shift, unit)) => write!(f, "{}{unit}", self.0 >> shift),
            None => write!(f, "{}", self.0),
        }
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Size, D::Error> {
        super::integer_or_text(d, "size", |n| u64::try_from(n).ok().map(Size), Size::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_powers_of_1024() {
        assert_eq!(Size::parse("1500"), Ok(Size(1500)));
        assert_eq!(Size::parse("512K"), Ok(Size(512 << 10)));
        assert_eq!(Size::parse("64M"), Ok(Size(64 << 20)));
        assert_eq!(Size::parse("64 MiB"), Ok(Size(64 << 20)));
        assert_eq!(Size::parse("2g"), Ok(Size(2 << 30)));
        assert_eq!(Size::parse("2GB"), Ok(Size(2 << 30)));
        assert_eq!(Size::parse("1T"), Ok(Size(1 << 40)));
        for bad in ["", "M", "12X", "-1", "1.5M", "99999999999999T"] {
            assert!(Size::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(Size::parse("lots").is_err_and(|e| e.contains("is not a size")));
        assert!(Size::parse("12X").is_err_and(|e| e.contains("unknown unit")));
    }

    #[test]
    fn shown_in_the_largest_unit_that_divides_it() {
        assert_eq!(Size::mib(150).to_string(), "150M");
        assert_eq!(Size(1536 << 10).to_string(), "1536K");
        assert_eq!(Size(1000).to_string(), "1000");
        assert_eq!(Size(0).to_string(), "0");
    }
}
