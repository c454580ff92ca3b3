//! Domain types (filled in below).
