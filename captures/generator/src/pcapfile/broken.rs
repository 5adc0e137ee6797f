//! Deliberately broken capture files, derived from a well-formed classic pcap file written by
//! [`super::PcapWriter`] (little-endian), for the reader's robustness tests.
//!
//! Each function returns the whole broken file. When the input is not a file this module can
//! walk (too short, or has no packets where one is needed), the input comes back unchanged.

const FILE_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

/// A caplen far beyond libpcap's 256 KiB limit, so readers must refuse rather than allocate.
pub const ABSURD_CAPLEN: u32 = 0x0100_0000;

/// Offsets of the record headers of a little-endian classic pcap file, up to the first record
/// that does not fit in the file.
pub fn record_offsets(file: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = FILE_HEADER_LEN;
    while let Some(caplen) = file.get(at + 8..at + 12) {
        let caplen = u32::from_le_bytes([caplen[0], caplen[1], caplen[2], caplen[3]]);
        let Some(end) = usize::try_from(caplen)
            .ok()
            .and_then(|len| (at + RECORD_HEADER_LEN).checked_add(len))
            .filter(|&end| end <= file.len())
        else {
            break;
        };
        offsets.push(at);
        at = end;
    }
    offsets
}

/// A zero-byte file.
pub fn empty() -> Vec<u8> {
    Vec::new()
}

/// The file header alone: a valid capture with no packets.
pub fn header_only(file: &[u8]) -> Vec<u8> {
    file.get(..FILE_HEADER_LEN).unwrap_or(file).to_vec()
}

/// One bit flipped in the magic number, the way a corrupted copy looks.
pub fn wrong_magic(file: &[u8]) -> Vec<u8> {
    let mut out = file.to_vec();
    if let Some(byte) = out.get_mut(3) {
        *byte ^= 0x01;
    }
    out
}

/// Cut in the middle of the last record's header.
pub fn truncated_in_record_header(file: &[u8]) -> Vec<u8> {
    match record_offsets(file).last() {
        Some(&last) => file[..last + RECORD_HEADER_LEN / 2].to_vec(),
        None => file.to_vec(),
    }
}

/// Cut in the middle of the last record's packet data.
pub fn truncated_in_packet_data(file: &[u8]) -> Vec<u8> {
    let Some(&last) = record_offsets(file).last() else {
        return file.to_vec();
    };
    let data_len = file.len() - last - RECORD_HEADER_LEN;
    file[..last + RECORD_HEADER_LEN + data_len / 2].to_vec()
}

/// The middle record claims [`ABSURD_CAPLEN`] captured (and original) bytes; the records
/// before it stay readable, the bytes after it are what they were.
pub fn absurd_caplen(file: &[u8]) -> Vec<u8> {
    let offsets = record_offsets(file);
    let mut out = file.to_vec();
    if let Some(&middle) = offsets.get(offsets.len() / 2) {
        out[middle + 8..middle + 16].copy_from_slice(&[0; 8]);
        out[middle + 8..middle + 12].copy_from_slice(&ABSURD_CAPLEN.to_le_bytes());
        out[middle + 12..middle + 16].copy_from_slice(&ABSURD_CAPLEN.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::LinkType;
    use crate::pcapfile::{PcapWriter, TsResolution};
    use ctxscope_dissectors::Timestamp;

    /// Three records of 4, 6 and 10 bytes.
    fn good() -> Vec<u8> {
        let mut w =
            PcapWriter::new(Vec::new(), LinkType::RAW, 65_535, TsResolution::Micro).unwrap();
        for len in [4usize, 6, 10] {
            w.write_packet(Timestamp::from_secs(1), &vec![0x45; len], len as u32)
                .unwrap();
        }
        w.into_inner().unwrap()
    }

    #[test]
    fn walks_the_records() {
        assert_eq!(record_offsets(&good()), vec![24, 44, 66]);
        assert_eq!(record_offsets(&good()[..70]), vec![24, 44]);
        assert!(record_offsets(&[]).is_empty());
    }

    #[test]
    fn cuts_land_where_named() {
        let file = good();
        assert_eq!(file.len(), 92);
        assert_eq!(truncated_in_record_header(&file).len(), 66 + 8);
        assert_eq!(truncated_in_packet_data(&file).len(), 66 + 16 + 5);
        assert_eq!(header_only(&file), &file[..24]);
        assert!(empty().is_empty());
    }

    #[test]
    fn magic_and_caplen_corruptions() {
        let file = good();
        let bad = wrong_magic(&file);
        assert_eq!(&bad[..4], &[0xD4, 0xC3, 0xB2, 0xA0]);
        assert_eq!(&bad[4..], &file[4..]);
        let absurd = absurd_caplen(&file);
        assert_eq!(&absurd[44 + 8..44 + 16], &[0, 0, 0, 1, 0, 0, 0, 1]);
        assert_eq!(
            record_offsets(&absurd),
            vec![24],
            "the walk stops at the lie"
        );
        assert_eq!(absurd.len(), file.len());
    }

    #[test]
    fn inputs_that_cannot_be_walked_come_back_unchanged() {
        let short = vec![1, 2, 3];
        assert_eq!(truncated_in_record_header(&short), short);
        assert_eq!(truncated_in_packet_data(&short), short);
        assert_eq!(absurd_caplen(&short), short);
        assert_eq!(header_only(&short), short);
        assert_eq!(wrong_magic(&[]), Vec::<u8>::new());
    }
}
