//! A tiny FNV-1a hasher for the crate's internal word tables.
//!
//! Why: tagging does a handful of set/map look-ups per token (negators, fillers,
//! stem memo, Arabizi table); std's SipHash is DoS-resistant but several times slower
//! on short keys, and these tables are fixed or bounded, so DoS resistance buys nothing.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a 64-bit.
#[derive(Default, Clone, Copy)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;
pub type FastSet<K> = HashSet<K, BuildHasherDefault<Fnv>>;

/// A set of static words.
pub fn word_set(words: &[&'static str]) -> FastSet<&'static str> {
    words.iter().copied().collect()
}
