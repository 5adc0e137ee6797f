//! The two XOR chains of ICA (PROTOCOLS.md 2.3 and 2.4).
//!
//! Both ciphers are the same chain: each ciphertext byte is the plaintext byte XORed with the
//! previous ciphertext byte and a one-byte key, `c[i] = p[i] ^ c[i-1] ^ key`. They differ only in
//! what stands in for `c[-1]`:
//! - RunEncodeBuffer (the UI_C2H variable area): `c[0] = p[0] ^ (seed | 0x43)`, so the stand-in
//!   is `(seed | 0x43) ^ seed`;
//! - PDCRYPT1 basic encryption: the stand-in is the direction's "queue", `key | 0x43` at first and
//!   then the last ciphertext byte of the previous encrypted frame.
//!
//! Since `p[i]` needs only `c[i]` and `c[i-1]`, any byte can be decrypted without the others.

/// The constant ORed into the key to seed both chains.
const SEED_BITS: u8 = 0x43;

/// A chain position: the key and the ciphertext byte before the next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XorChain {
    key: u8,
    prev: u8,
}

impl XorChain {
    /// PDCRYPT1 with the session key and the direction's queue byte.
    pub const fn pdcrypt1(key: u8, queue: u8) -> XorChain {
        XorChain { key, prev: queue }
    }

    /// PDCRYPT1 at the start of a direction, before any encrypted frame.
    pub const fn pdcrypt1_start(key: u8) -> XorChain {
        XorChain::pdcrypt1(key, key | SEED_BITS)
    }

    /// RunEncodeBuffer with the UI_C2H encryption seed.
    pub const fn run_encode(seed: u8) -> XorChain {
        XorChain {
            key: seed,
            prev: (seed | SEED_BITS) ^ seed,
        }
    }

    /// Decrypts the next byte and moves along the chain.
    pub fn decrypt(&mut self, c: u8) -> u8 {
        let p = c ^ self.prev ^ self.key;
        self.prev = c;
        p
    }

    /// Encrypts the next byte and moves along the chain.
    #[cfg(any(test, feature = "encode"))]
    pub fn encrypt(&mut self, p: u8) -> u8 {
        let c = p ^ self.prev ^ self.key;
        self.prev = c;
        c
    }

    /// Decrypts `cipher` into `plain` (as far as both go) without moving along the chain.
    pub fn peek(&self, cipher: &[u8], plain: &mut [u8]) {
        let mut prev = self.prev;
        for (p, &c) in plain.iter_mut().zip(cipher) {
            *p = c ^ prev ^ self.key;
            prev = c;
        }
    }

    /// Moves along the chain over ciphertext that is not decrypted (only its last byte matters).
    pub fn skip(&mut self, ciphertext: &[u8]) {
        if let Some(&last) = ciphertext.last() {
            self.prev = last;
        }
    }

    #[cfg(any(test, feature = "encode"))]
    pub fn encrypt_in_place(&mut self, bytes: &mut [u8]) {
        for b in bytes {
            *b = self.encrypt(*b);
        }
    }
}

/// The UI_C2H variable area, still scrambled; plaintext bytes are computed on demand, so a
/// secret in it (the password) never has to exist in memory as a whole.
#[derive(Clone, Copy, Debug)]
pub struct ScrambledArea<'a> {
    cipher: &'a [u8],
    chain: XorChain,
}

impl<'a> ScrambledArea<'a> {
    pub fn new(cipher: &'a [u8], seed: u8) -> ScrambledArea<'a> {
        ScrambledArea {
            cipher,
            chain: XorChain::run_encode(seed),
        }
    }

    pub fn len(&self) -> usize {
        self.cipher.len()
    }

    /// The plaintext byte at `index`, `None` past the end.
    pub fn byte(&self, index: usize) -> Option<u8> {
        let c = *self.cipher.get(index)?;
        let mut chain = match index.checked_sub(1) {
            Some(before) => XorChain::pdcrypt1(self.chain.key, *self.cipher.get(before)?),
            None => self.chain,
        };
        Some(chain.decrypt(c))
    }

    /// The plaintext bytes from `start` up to (not including) the first NUL or the end.
    pub fn c_string(&self, start: usize) -> impl Iterator<Item = u8> + '_ {
        (start..self.cipher.len())
            .map_while(|i| self.byte(i))
            .take_while(|&b| b != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_encode_matches_the_documented_formula() {
        // Seed 0x56: c[0] = 'A' ^ (0x56 | 0x43) = 0x41 ^ 0x57 = 0x16;
        // c[1] = 'B' ^ c[0] ^ seed = 0x42 ^ 0x16 ^ 0x56 = 0x02; c[2] = 0 ^ 0x02 ^ 0x56 = 0x54.
        let mut chain = XorChain::run_encode(0x56);
        let mut bytes = *b"AB\0";
        chain.encrypt_in_place(&mut bytes);
        assert_eq!(bytes, [0x16, 0x02, 0x54]);
        let area = ScrambledArea::new(&bytes, 0x56);
        assert_eq!(area.byte(0), Some(b'A'));
        assert_eq!(area.byte(2), Some(0));
        assert_eq!(area.byte(3), None);
        assert_eq!(area.c_string(0).collect::<Vec<_>>(), b"AB");
        assert_eq!(area.c_string(1).collect::<Vec<_>>(), b"B");
        assert_eq!(area.c_string(9).count(), 0);
    }

    #[test]
    fn pdcrypt1_matches_the_documented_formula() {
        // Key 0x04: queue = 0x04 | 0x43 = 0x47. Plain 06 00:
        // c[0] = 0x06 ^ 0x47 ^ 0x04 = 0x45; c[1] = 0x00 ^ 0x45 ^ 0x04 = 0x41.
        let mut enc = XorChain::pdcrypt1_start(0x04);
        assert_eq!([enc.encrypt(0x06), enc.encrypt(0x00)], [0x45, 0x41]);
        // The chain goes on from the last ciphertext byte: 0x06 ^ 0x41 ^ 0x04 = 0x43.
        assert_eq!(enc.encrypt(0x06), 0x43);
        let mut dec = XorChain::pdcrypt1_start(0x04);
        assert_eq!([dec.decrypt(0x45), dec.decrypt(0x41)], [0x06, 0x00]);
        // Skipped ciphertext only moves the queue.
        dec.skip(&[1, 2, 3]);
        dec.skip(&[]);
        assert_eq!(dec.decrypt(0x10), 0x10 ^ 3 ^ 0x04);
    }

    #[test]
    fn every_byte_decrypts_from_its_predecessor_alone() {
        let plain: Vec<u8> = (0..=255u8).collect();
        let mut cipher = plain.clone();
        XorChain::pdcrypt1(0x9C, 0x21).encrypt_in_place(&mut cipher);
        for i in 1..cipher.len() {
            let mut chain = XorChain::pdcrypt1(0x9C, cipher[i - 1]);
            assert_eq!(chain.decrypt(cipher[i]), plain[i]);
        }
    }
}
