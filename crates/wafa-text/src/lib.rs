//! Text intelligence for Arabic and English: normalisation (used by search everywhere),
//! language detection, sentiment, intent and FAQ answering. Pure: no I/O at run time —
//! the models are embedded with `include_bytes!` and trained offline by the examples.
//!
//! # Tagging messages
//! ```
//! let tagger = wafa_text::tagger(); // lazily initialised global; or Tagger::new()
//! let tags = tagger.tag("الطلب وصل مكسور ومحد يرد علي");
//! assert_eq!(tags.sentiment.label.as_str(), "negative");
//! let json = serde_json::to_string(&tags).unwrap();
//! // {"lang":"ar","sentiment":{"label":"negative","score":-0.9},"intent":{"label":"complaint","score":0.8}}
//! assert!(json.starts_with("{\"lang\":\"ar\",\"sentiment\":{\"label\":\"negative\",\"score\":"));
//! ```
//! `sentiment.score` is the signed polarity p(pos) − p(neg) in [−1, 1] (use it for
//! trends); `intent.score` is the intent's probability.
//!
//! # `wafa text --jsonl`
//! The app's command is one loop: read stdin lines, write [`tag_jsonl_line`] per line:
//! ```no_run
//! use std::io::{BufRead, Write};
//! let t = wafa_text::tagger();
//! let mut out = std::io::stdout().lock();
//! for line in std::io::stdin().lock().lines() {
//!     let line = line.unwrap_or_default();
//!     writeln!(out, "{}", wafa_text::tag_jsonl_line(t, &line)).unwrap();
//! }
//! ```
//!
//! # FAQ answering
//! See [`faq::FaqIndex`]: build once per workspace from entries, query many times,
//! answer when `confidence >= faq::DEFAULT_THRESHOLD`, hand over to a human otherwise.

pub mod arabizi;
pub mod eval;
pub mod faq;
mod fasthash;
pub mod features;
pub mod intent;
pub mod lang;
pub mod lexicon;
pub mod linear;
pub mod normalize;
pub mod sentiment;

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

pub use faq::{FaqEntry, FaqHit, FaqIndex};
pub use intent::{Intent, IntentLabel};
pub use lang::Lang;
pub use sentiment::{Sentiment, SentimentLabel};

/// Tags for one message. Serialises to exactly
/// `{"lang": "...", "sentiment": {"label": "...", "score": f32}, "intent": {"label": "...", "score": f32}}`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tags {
    pub lang: Lang,
    pub sentiment: Sentiment,
    pub intent: Intent,
}

impl Tags {
    /// The sentiment polarity in [−1, 1] for `sentiment_trend`
    /// (confidences: [`Tagger::tag_detailed`]).
    pub fn sentiment_score(&self) -> f32 {
        self.sentiment.score
    }
}

/// [`Tags`] with the confidences the wire format leaves out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TagDetails {
    pub tags: Tags,
    /// Language-detection confidence in [0, 1] (0 when the text has no letters).
    pub lang_confidence: f32,
    /// Probability of the chosen sentiment label.
    pub sentiment_confidence: f32,
}

/// The message tagger: holds the embedded models. Construct once (cheap: parses
/// ~3.5 MB of embedded weights and the sentiment lexicon) and share; it is `Send + Sync`.
pub struct Tagger {
    sentiment: linear::LinearModel,
    intent: linear::LinearModel,
}

impl Default for Tagger {
    fn default() -> Self {
        Self::new()
    }
}

impl Tagger {
    /// Load the embedded models. Never panics (a corrupt model degrades to a
    /// uniform fallback, which the crate's tests would catch).
    pub fn new() -> Self {
        // Parse the sentiment lexicon now rather than on the first message.
        let _ = lexicon::lexicon();
        Tagger {
            sentiment: sentiment::load_model(),
            intent: intent::load_model(),
        }
    }

    /// Tag one message: language, sentiment and intent. Total: any `&str` gives a
    /// defined result (empty or emoji-only text included); only the first
    /// [`features::MAX_BYTES`] bytes are analysed.
    pub fn tag(&self, text: &str) -> Tags {
        self.tag_detailed(text).tags
    }

    /// [`Tagger::tag`] plus the confidences that the wire format leaves out.
    pub fn tag_detailed(&self, text: &str) -> TagDetails {
        let a = features::analyze(text);
        let mut raw = Vec::with_capacity(a.tokens.len() * 12 + 4);
        features::raw_features(&a, &mut raw);
        let mut feats = Vec::with_capacity(raw.len() + 16);
        features::mask_features(&raw, self.sentiment.bits(), true, |_| true, &mut feats);
        let s = if sentiment::has_content(&a) {
            sentiment::classify_features_dense(
                &self.sentiment,
                &feats,
                &sentiment::dense_inputs(&a),
            )
        } else {
            sentiment::NO_CONTENT
        };
        let i = intent::classify_with(&self.intent, &a, &raw, s.score, &mut feats);
        TagDetails {
            tags: Tags {
                lang: a.lang.lang,
                sentiment: s,
                intent: i,
            },
            lang_confidence: a.lang.confidence,
            sentiment_confidence: s.confidence,
        }
    }

    /// Sentiment only.
    pub fn sentiment(&self, text: &str) -> Sentiment {
        sentiment::classify(&self.sentiment, &features::analyze(text))
    }

    /// Intent only.
    pub fn intent(&self, text: &str) -> Intent {
        self.tag(text).intent
    }
}

/// The lazily initialised global tagger.
pub fn tagger() -> &'static Tagger {
    static T: OnceLock<Tagger> = OnceLock::new();
    T.get_or_init(Tagger::new)
}

/// Tag one line and return its JSON object (no trailing newline).
pub fn tag_jsonl_line(tagger: &Tagger, line: &str) -> String {
    let tags = tagger.tag(line);
    // Serialising plain enums and finite floats cannot fail; keep a fallback anyway.
    serde_json::to_string(&tags).unwrap_or_else(|_| {
        r#"{"lang":"ar","sentiment":{"label":"neutral","score":0.0},"intent":{"label":"other","score":0.0}}"#.into()
    })
}
