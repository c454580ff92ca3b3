//! Language detection: `ar`, `en`, `arabizi` or `mixed`, with a confidence.
//!
//! Why rules and not a model: the decision is mostly about script. Arabic vs Latin
//! letters are counted; a message is `mixed` when both scripts carry real words.
//! For Latin-only text the hard case is English vs Arabizi, decided by evidence
//! per token: digits used as letters (3, 7, 2, 5 …) or known Arabizi words vs common
//! English words. Messages with no letters at all (empty, emoji-only, digits-only)
//! get `ar` with confidence 0 — Arabic is the platform's default locale.

use serde::{Deserialize, Serialize};

use crate::arabizi;

/// Detected language of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Ar,
    En,
    Arabizi,
    Mixed,
}

impl Lang {
    /// The wire name: `ar`, `en`, `arabizi`, `mixed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Ar => "ar",
            Lang::En => "en",
            Lang::Arabizi => "arabizi",
            Lang::Mixed => "mixed",
        }
    }
}

/// Frequent English words (incl. e-commerce vocabulary) used as English evidence.
pub(crate) const EN_COMMON: &[&str] = &[
    "the", "a", "an", "is", "are", "was", "were", "be", "been", "i", "you", "he", "she", "it",
    "we", "they", "my", "your", "our", "their", "me", "to", "of", "and", "or", "but", "in", "on",
    "at", "for", "with", "this", "that", "these", "those", "what", "where", "when", "why", "how",
    "who", "which", "do", "does", "did", "not", "no", "yes", "can", "could", "would", "should",
    "will", "have", "has", "had", "please", "thanks", "thank", "order", "delivery", "item",
    "product", "refund", "return", "cancel", "money", "very", "good", "bad", "great", "so", "too",
    "just", "still", "yet", "got", "get", "want", "need", "from", "by", "about", "if", "there",
    "here", "all", "any", "some", "more", "than", "then", "now", "am", "its", "it's", "i'm",
    "don't", "didn't", "doesn't", "isn't", "hello", "hi", "hey", "love", "like", "quality",
    "price", "size", "color", "colour", "arrived", "received", "shipping", "address", "phone",
    "number", "change", "payment", "card", "paid", "pay", "ok", "okay", "really", "also", "would",
    "time", "day", "days", "week", "one", "two", "nice", "well", "much", "many", "out", "up",
    "broken", "wrong", "late", "waiting", "still", "help", "discount", "code", "exchange", "track",
];

/// True if `w` is a common English word.
pub(crate) fn is_en_common(w: &str) -> bool {
    static SET: std::sync::OnceLock<crate::fasthash::FastSet<&'static str>> =
        std::sync::OnceLock::new();
    SET.get_or_init(|| crate::fasthash::word_set(EN_COMMON))
        .contains(w)
}

/// Result of [`detect`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LangGuess {
    pub lang: Lang,
    /// In [0, 1].
    pub confidence: f32,
}

/// Detect the language of already-normalised text (see [`crate::normalize::normalize`]).
pub fn detect_normalized(norm: &str) -> LangGuess {
    let mut ar_letters = 0usize;
    let mut lat_letters = 0usize;
    let mut ar_words = 0usize;
    let mut lat_words = 0usize;
    let mut en_ev = 0f32;
    let mut az_ev = 0f32;
    for tok in norm.split(' ') {
        let mut a = 0;
        let mut l = 0;
        for c in tok.chars() {
            if crate::normalize::is_arabic_letter(c) {
                a += 1;
            } else if c.is_alphabetic() {
                l += 1;
            }
        }
        ar_letters += a;
        lat_letters += l;
        if a >= 2 {
            ar_words += 1;
        }
        if l >= 1 {
            lat_words += 1;
            if arabizi::is_arabizi_evidence(tok) {
                az_ev += if tok.chars().any(|c| c.is_ascii_digit()) {
                    1.5
                } else {
                    1.0
                };
            } else if is_en_common(tok) {
                en_ev += 1.0;
            } else if tok.len() > 3
                && (tok.ends_with("ing") || tok.ends_with("ed") || tok.ends_with("ly"))
            {
                en_ev += 0.5;
            }
        }
    }
    let total = ar_letters + lat_letters;
    if total == 0 {
        return LangGuess {
            lang: Lang::Ar,
            confidence: 0.0,
        };
    }
    let ar_share = ar_letters as f32 / total as f32;
    // Both scripts carry words → mixed. A single short Latin word inside Arabic
    // text (a brand, "ok") does not make a message mixed.
    if ar_words > 0
        && lat_words > 0
        && (0.15..=0.85).contains(&ar_share)
        && (ar_words.min(lat_words) >= 2 || (0.35..=0.65).contains(&ar_share))
    {
        let conf = 1.0 - (ar_share - 0.5).abs();
        return LangGuess {
            lang: Lang::Mixed,
            confidence: conf.clamp(0.5, 1.0),
        };
    }
    if ar_share > 0.5 {
        return LangGuess {
            lang: Lang::Ar,
            confidence: ar_share,
        };
    }
    // Latin script: English vs Arabizi.
    let lat_share = 1.0 - ar_share;
    if az_ev + en_ev == 0.0 {
        // Unknown Latin words: English is the likelier reading.
        return LangGuess {
            lang: Lang::En,
            confidence: 0.5 * lat_share,
        };
    }
    let p_az = (az_ev + 0.25) / (az_ev + en_ev + 0.5);
    if p_az > 0.5 {
        LangGuess {
            lang: Lang::Arabizi,
            confidence: p_az * lat_share,
        }
    } else {
        LangGuess {
            lang: Lang::En,
            confidence: (1.0 - p_az) * lat_share,
        }
    }
}

/// Detect the language of raw text.
pub fn detect(text: &str) -> LangGuess {
    detect_normalized(&crate::normalize::normalize(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects() {
        assert_eq!(detect("وين طلبي؟ صار لي أسبوع").lang, Lang::Ar);
        assert_eq!(detect("Where is my order? It's been a week").lang, Lang::En);
        assert_eq!(detect("3ayez a3raf el order fen").lang, Lang::Arabizi);
        assert_eq!(detect("el montag mesh kowayes khales").lang, Lang::Arabizi);
        assert_eq!(detect("ana 3ayez alghi el talab").lang, Lang::Arabizi);
        assert_eq!(
            detect("الاوردر تبعي order number 5521 where is it").lang,
            Lang::Mixed
        );
        assert_eq!(detect("ابي ارجع الجوال iphone").lang, Lang::Ar);
        assert_eq!(detect("").confidence, 0.0);
        assert_eq!(detect("😍😍").lang, Lang::Ar);
        assert_eq!(detect("12345").confidence, 0.0);
    }
}
