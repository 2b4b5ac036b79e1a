//! xorshift64*: a tiny seeded generator, so a randomized test makes the same
//! inputs on every run and backend and a failure reproduces.
#![allow(
    dead_code,
    reason = "shared helpers: not every test module uses each one"
)]

use uuid::Uuid;

/// The generator; the seed must not be zero.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// One of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// `len` characters mixing ASCII, multi-byte characters and delimiters.
    pub fn text(&mut self, len: usize) -> String {
        const ALPHABET: [char; 12] = ['a', 'Z', '0', '|', ':', ' ', 'é', '€', '😀', '\n', '%', '_'];
        (0..len)
            .map(|_| ALPHABET[self.below(ALPHABET.len())])
            .collect()
    }

    /// `len` printable ASCII characters (so exactly `len` bytes).
    pub fn ascii(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b' ' + self.below(95) as u8))
            .collect()
    }

    /// A random UUID.
    pub fn uuid(&mut self) -> Uuid {
        Uuid::from_u64_pair(self.next(), self.next())
    }
}
