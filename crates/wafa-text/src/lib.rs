//! Text intelligence for Arabic and English: normalisation (used by search everywhere),
//! language detection, sentiment, intent and FAQ answering. Pure: no I/O.

pub mod arabizi;
pub mod lang;
pub mod normalize;
pub mod features;
pub mod linear;
pub mod eval;
pub mod sentiment;
pub mod intent;
