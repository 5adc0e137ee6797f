//! The integrity checks of both framings.
//!
//! - Legacy fixed-size messages carry an additive checksum at offset 1: the sum, modulo 256, of
//!   every byte of the message except the checksum byte itself.
//! - 0x2F messages carry a header check byte at offset 1 (the same kind of sum over the 20-byte
//!   header: [`super::framed::header_check`], beside the header it covers) and a CRC-14 at
//!   offsets 2-3 over everything from the length field to the end.

/// CRC-14 polynomial 0x2E97 in its reflected form: the constant the bitwise loop XORs in.
const CRC14_POLY_REFLECTED: u16 = 0x3A5D;

/// `TABLE[i]` is eight rounds of the reflected bitwise CRC applied to `i`.
static CRC14_TABLE: [u16; 256] = crc14_table();

const fn crc14_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u16;
        let mut round = 0;
        while round < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ CRC14_POLY_REFLECTED
            } else {
                crc >> 1
            };
            round += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// Continues a reflected CRC-14 (init 0, no final XOR) over `data`.
pub fn crc14_update(crc: u16, data: &[u8]) -> u16 {
    data.iter().fold(crc, |crc, &b| {
        CRC14_TABLE[usize::from((crc as u8) ^ b)] ^ (crc >> 8)
    })
}

/// The CRC-14 of a whole buffer.
pub fn crc14(data: &[u8]) -> u16 {
    crc14_update(0, data)
}

/// The legacy checksum: every byte except the one at offset 1, summed modulo 256.
pub fn legacy_checksum(msg: &[u8]) -> u8 {
    let command = msg.first().copied().unwrap_or(0);
    let data = msg.get(2..).unwrap_or(&[]);
    data.iter().fold(command, |sum, &b| sum.wrapping_add(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc14_self_check_values() {
        assert_eq!(crc14(b"123456789"), 0x3076);
        assert_eq!(crc14(b""), 0x0000);
    }

    #[test]
    fn table_matches_the_bitwise_definition() {
        fn bitwise(data: &[u8]) -> u16 {
            let mut crc = 0u16;
            for &b in data {
                crc ^= u16::from(b);
                for _ in 0..8 {
                    crc = if crc & 1 == 1 {
                        (crc >> 1) ^ 0x3A5D
                    } else {
                        crc >> 1
                    };
                }
            }
            crc
        }
        let data: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for end in [0, 1, 2, 17, 255, 256, data.len()] {
            assert_eq!(crc14(&data[..end]), bitwise(&data[..end]), "prefix {end}");
        }
        // The result always fits in 14 bits.
        assert!(data.windows(7).all(|w| crc14(w) < 0x4000));
    }

    #[test]
    fn crc_can_be_computed_in_pieces() {
        let data = b"lic01.example.net and more bytes";
        let (a, b) = data.split_at(11);
        assert_eq!(crc14_update(crc14(a), b), crc14(data));
    }

    #[test]
    fn legacy_checksum_skips_byte_one() {
        // 'l' = 0x6C, checksum slot, then 0x01 0x02: 0x6C + 0x01 + 0x02 = 0x6F.
        assert_eq!(legacy_checksum(&[0x6C, 0xEE, 0x01, 0x02]), 0x6F);
        // Wraps modulo 256: 0xFF + 0x02 = 0x01.
        assert_eq!(legacy_checksum(&[0xFF, 0x00, 0x02]), 0x01);
        assert_eq!(legacy_checksum(&[]), 0);
        assert_eq!(legacy_checksum(&[0x41]), 0x41);
    }
}
