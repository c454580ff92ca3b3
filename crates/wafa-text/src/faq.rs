//! FAQ answering: rank a workspace's FAQ entries for a customer question, with a
//! confidence in [0, 1] so a chatbot answers above a threshold and hands over below.
//!
//! Why BM25 + char n-grams + synonyms: FAQ sets are tiny (tens of entries), so
//! there is nothing to train per workspace; lexical retrieval over well-normalised
//! text is robust and explainable. Two BM25 fields are combined:
//! - word terms: normalised, stemmed tokens (Arabizi transliterated), stop words
//!   dropped, each mapped through synonym groups ("شحنة" ~ "طلب" ~ "order") — the
//!   built-in groups cover common e-commerce vocabulary in Arabic dialects and
//!   English (which also bridges Arabic questions to English entries), and a workspace
//!   can add its own;
//! - character 3-grams of the words, which match dialect and spelling variants
//!   (اتتبع / تتبع, الكوبون / كوبون) that stemming misses.
//!
//! Confidence = a weighted ratio of the best entry's score to the score a perfect
//! match of the query would get, damped when the runner-up is nearly as good.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::features::{analyze, hash_str, Kind};

/// Suggested threshold: answer automatically at or above, hand over below.
pub const DEFAULT_THRESHOLD: f32 = 0.4;

/// One FAQ entry of a workspace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaqEntry {
    /// Caller's identifier (returned in hits).
    #[serde(default)]
    pub id: String,
    pub question: String,
    pub answer: String,
    /// Optional extra phrasings of the question (any language/dialect).
    #[serde(default)]
    pub phrasings: Vec<String>,
}

/// A ranked FAQ match.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaqHit {
    /// Index into the entries the index was built from.
    pub index: usize,
    pub id: String,
    /// In [0, 1].
    pub confidence: f32,
    /// Raw combined BM25 score (for debugging/ordering).
    pub score: f32,
}

/// Built-in synonym groups (any spelling; normalised and stemmed at build time).
const DEFAULT_SYNONYMS: &[&[&str]] = &[
    &[
        "طلب",
        "طلبي",
        "طلبيه",
        "الطلبيه",
        "اوردر",
        "الاوردر",
        "شحنه",
        "الشحنه",
        "طرد",
        "order",
        "shipment",
        "package",
        "parcel",
    ],
    &[
        "توصيل",
        "التوصيل",
        "شحن",
        "الشحن",
        "يوصل",
        "توصلون",
        "delivery",
        "shipping",
        "ship",
        "deliver",
    ],
    &[
        "ارجاع",
        "الارجاع",
        "استرجاع",
        "مرتجع",
        "ارجع",
        "رجع",
        "return",
        "returns",
    ],
    &[
        "استرداد",
        "فلوس",
        "فلوسي",
        "المبلغ",
        "مبلغ",
        "مصاري",
        "المصاري",
        "refund",
        "money",
    ],
    &[
        "استبدال",
        "تبديل",
        "ابدل",
        "بدل",
        "استبدل",
        "exchange",
        "swap",
    ],
    &[
        "سعر",
        "بكام",
        "ثمن",
        "تكلفه",
        "رسوم",
        "حق",
        "price",
        "cost",
        "fee",
        "fees",
    ],
    &["دفع", "ادفع", "الدفع", "payment", "pay"],
    &["كاش", "نقدا", "نقدي", "cash", "cod"],
    &["مقاس", "المقاس", "قياس", "القياس", "مقاسي", "size"],
    &["الغاء", "الغي", "كنسل", "الغيه", "cancel"],
    &["متى", "امتى", "ايمتى", "when"],
    &["وين", "فين", "اين", "where"],
    &[
        "جوال",
        "موبايل",
        "تلفون",
        "تليفون",
        "هاتف",
        "phone",
        "mobile",
    ],
    &["عنوان", "العنوان", "لوكيشن", "address", "location"],
    &[
        "خصم",
        "كوبون",
        "الكوبون",
        "كود",
        "برومو",
        "discount",
        "coupon",
        "promo",
        "code",
    ],
    &["ضمان", "كفاله", "warranty", "guarantee"],
    &["مجاني", "مجانا", "ببلاش", "free"],
    &[
        "اصلي",
        "اصليه",
        "اوريجينال",
        "original",
        "authentic",
        "genuine",
    ],
    &[
        "تقسيط",
        "اقسط",
        "قسط",
        "دفعات",
        "تابي",
        "تمارا",
        "installments",
        "installment",
        "tabby",
        "tamara",
        "split",
    ],
    &[
        "حساب",
        "اكونت",
        "تسجيل",
        "اسجل",
        "account",
        "register",
        "signup",
    ],
    &["فرع", "محل", "معرض", "store", "shop", "branch"],
    &["تتبع", "اتتبع", "تتبع", "track", "tracking"],
    &[
        "عدل",
        "اعدل",
        "تعديل",
        "غير",
        "اغير",
        "تغيير",
        "change",
        "update",
        "edit",
    ],
    &["كم", "how much", "how many"],
    &[
        "وقت",
        "اوقات",
        "ساعات",
        "دوام",
        "الدوام",
        "تفتحون",
        "تفتحوا",
        "بتفتحوا",
        "hours",
        "time",
        "open",
        "opening",
    ],
    &["خدمه", "الدعم", "دعم", "support", "service", "agent"],
    &[
        "مكان",
        "مكانكم",
        "مقر",
        "مقركم",
        "عنوانكم",
        "visit",
        "located",
    ],
    &[
        "خارج",
        "دول",
        "الخليج",
        "الكويت",
        "الامارات",
        "دبي",
        "قطر",
        "البحرين",
        "عمان",
        "مصر",
        "الاردن",
        "لبنان",
        "العراق",
        "international",
        "internationally",
        "abroad",
        "uae",
        "dubai",
        "kuwait",
        "qatar",
        "bahrain",
        "oman",
        "egypt",
        "jordan",
        "lebanon",
        "iraq",
        "worldwide",
        "overseas",
    ],
    &["sign", "login", "دخول", "حسابي"],
];

/// Function words dropped from the word field (normalised spellings).
const STOP: &[&str] = &[
    "في",
    "من",
    "على",
    "الى",
    "عن",
    "هل",
    "ما",
    "ماذا",
    "هو",
    "هي",
    "انا",
    "انت",
    "انتم",
    "احنا",
    "نحن",
    "ان",
    "او",
    "و",
    "يا",
    "لو",
    "سمحت",
    "ممكن",
    "ابي",
    "ابغى",
    "ابغي",
    "عايز",
    "عاوز",
    "بدي",
    "اريد",
    "ارغب",
    "اقدر",
    "ينفع",
    "فيه",
    "فيني",
    "عندكم",
    "لديكم",
    "هذا",
    "هذه",
    "ده",
    "دي",
    "هاد",
    "لي",
    "لك",
    "the",
    "a",
    "an",
    "is",
    "are",
    "do",
    "does",
    "i",
    "you",
    "my",
    "your",
    "can",
    "to",
    "of",
    "for",
    "in",
    "on",
    "it",
    "what",
    "please",
    "hi",
    "hello",
    "me",
    "we",
    "there",
    "any",
    "is",
    "be",
    "with",
    "at",
    "ولا",
    "بس",
    "كيف",
    "how",
    "ازاي",
    "شو",
    "وش",
    "ايش",
];

const K1: f32 = 1.2;
const B: f32 = 0.5;
const ANSWER_WEIGHT: f32 = 0.3;

#[derive(Default)]
struct Field {
    df: HashMap<u64, u32>,
    docs: Vec<HashMap<u64, f32>>,
    len: Vec<f32>,
    avgdl: f32,
}

impl Field {
    fn add_doc(&mut self, weighted: &[(u64, f32)]) {
        let mut tf: HashMap<u64, f32> = HashMap::new();
        for &(t, w) in weighted {
            *tf.entry(t).or_default() += w;
        }
        for t in tf.keys() {
            *self.df.entry(*t).or_default() += 1;
        }
        self.len.push(tf.values().sum());
        self.docs.push(tf);
    }

    fn finish(&mut self) {
        let n = self.len.len().max(1) as f32;
        self.avgdl = (self.len.iter().sum::<f32>() / n).max(1.0);
    }

    fn idf(&self, t: u64) -> f32 {
        let n = self.docs.len() as f32;
        let df = self.df.get(&t).copied().unwrap_or(0) as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    fn score(&self, q: &[u64], d: usize) -> f32 {
        let doc = &self.docs[d];
        let norm = K1 * (1.0 - B + B * self.len[d] / self.avgdl);
        q.iter()
            .map(|t| match doc.get(t) {
                Some(&tf) => self.idf(*t) * tf * (K1 + 1.0) / (tf + norm),
                None => 0.0,
            })
            .sum()
    }

    /// Score of a perfect match (each query term once, average length).
    fn max_score(&self, q: &[u64]) -> f32 {
        q.iter().map(|t| self.idf(*t)).sum()
    }
}

/// A per-workspace FAQ index: build once with [`FaqIndex::new`], query many times.
pub struct FaqIndex {
    ids: Vec<String>,
    synonyms: HashMap<String, u64>,
    words: Field,
    chars: Field,
}

impl FaqIndex {
    /// Build with the built-in synonym groups.
    pub fn new(entries: &[FaqEntry]) -> Self {
        Self::with_synonyms(entries, &[])
    }

    /// Build with the built-in synonym groups plus the workspace's own groups
    /// (each group: words or short phrases meaning the same thing, any language).
    pub fn with_synonyms(entries: &[FaqEntry], extra: &[Vec<String>]) -> Self {
        let mut idx = FaqIndex {
            ids: Vec::new(),
            synonyms: HashMap::new(),
            words: Field::default(),
            chars: Field::default(),
        };
        let groups = DEFAULT_SYNONYMS
            .iter()
            .map(|g| g.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .chain(extra.iter().cloned());
        for (gi, group) in groups.enumerate() {
            let group_stems: Vec<String> = group
                .iter()
                .flat_map(|p| stems(p))
                .map(|(st, _)| st)
                .collect();
            // A group that shares a word with an earlier one merges into it, so a
            // workspace can extend the built-in groups ("بطاقه" ~ "payment").
            let gid = group_stems
                .iter()
                .find_map(|st| idx.synonyms.get(st).copied())
                .unwrap_or_else(|| hash_str(b'Y', &gi.to_string()));
            for st in group_stems {
                idx.synonyms.entry(st).or_insert(gid);
            }
        }
        for e in entries {
            idx.ids.push(e.id.clone());
            let mut w = Vec::new();
            let mut c = Vec::new();
            for q in std::iter::once(&e.question).chain(e.phrasings.iter()) {
                idx.terms(q, 1.0, &mut w, &mut c);
            }
            idx.terms(&e.answer, ANSWER_WEIGHT, &mut w, &mut c);
            idx.words.add_doc(&w);
            idx.chars.add_doc(&c);
        }
        idx.words.finish();
        idx.chars.finish();
        idx
    }

    fn terms(
        &self,
        text: &str,
        weight: f32,
        words: &mut Vec<(u64, f32)>,
        chars: &mut Vec<(u64, f32)>,
    ) {
        for (stem, surface) in stems(text) {
            let id = self
                .synonyms
                .get(&stem)
                .copied()
                .unwrap_or_else(|| hash_str(b'T', &stem));
            words.push((id, weight));
            let cs: Vec<char> = std::iter::once('<')
                .chain(surface.chars())
                .chain(std::iter::once('>'))
                .collect();
            for win in cs.windows(3) {
                let s: String = win.iter().collect();
                chars.push((hash_str(b'C', &s), weight));
            }
        }
    }

    fn query_terms(&self, text: &str) -> (Vec<u64>, Vec<u64>) {
        let mut w = Vec::new();
        let mut c = Vec::new();
        self.terms(text, 1.0, &mut w, &mut c);
        let mut w: Vec<u64> = w.into_iter().map(|x| x.0).collect();
        let mut c: Vec<u64> = c.into_iter().map(|x| x.0).collect();
        w.sort_unstable();
        w.dedup();
        c.sort_unstable();
        c.dedup();
        (w, c)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when built from no entries.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The best `k` entries for `question`, best first. Empty when the index is
    /// empty or the question has no searchable words.
    pub fn search(&self, question: &str, k: usize) -> Vec<FaqHit> {
        if self.ids.is_empty() || k == 0 {
            return Vec::new();
        }
        let (qw, qc) = self.query_terms(question);
        if qw.is_empty() && qc.is_empty() {
            return Vec::new();
        }
        let wmax = self.words.max_score(&qw).max(1e-6);
        let cmax = self.chars.max_score(&qc).max(1e-6);
        let mut scored: Vec<(usize, f32)> = (0..self.ids.len())
            .map(|d| {
                let ws = (self.words.score(&qw, d) / wmax).min(1.0);
                let cs = (self.chars.score(&qc, d) / cmax).min(1.0);
                (d, 0.6 * ws + 0.4 * cs)
            })
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let second = scored.get(1).map(|x| x.1).unwrap_or(0.0);
        scored
            .iter()
            .filter(|x| x.1 > 0.0)
            .take(k)
            .enumerate()
            .map(|(rank, &(d, s))| {
                let raw = s.clamp(0.0, 1.0);
                // Damp when the runner-up is close: the question is ambiguous.
                let margin = if rank == 0 && s > 0.0 {
                    ((s - second) / s).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let conf = if rank == 0 {
                    raw.sqrt() * (0.6 + 0.4 * margin.sqrt())
                } else {
                    raw.sqrt() * 0.6
                };
                FaqHit {
                    index: d,
                    id: self.ids[d].clone(),
                    confidence: conf.clamp(0.0, 1.0),
                    score: s,
                }
            })
            .collect()
    }

    /// The best entry, if any.
    pub fn best(&self, question: &str) -> Option<FaqHit> {
        self.search(question, 1).into_iter().next()
    }
}

/// (stem, surface) of the content words of `text`.
fn stems(text: &str) -> Vec<(String, String)> {
    analyze(text)
        .tokens
        .into_iter()
        .filter(|t| matches!(t.kind, Kind::Arabic | Kind::Latin | Kind::Number))
        .filter(|t| !STOP.contains(&t.surface.as_str()))
        .map(|t| (t.stem, t.surface))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<FaqEntry> {
        vec![
            FaqEntry {
                id: "ship".into(),
                question: "كم مدة التوصيل؟".into(),
                answer: "2-5 أيام".into(),
                phrasings: vec![],
            },
            FaqEntry {
                id: "ret".into(),
                question: "ما هي سياسة الإرجاع؟".into(),
                answer: "14 يوم".into(),
                phrasings: vec![],
            },
            FaqEntry {
                id: "pay".into(),
                question: "What payment methods do you accept?".into(),
                answer: "Mada, Visa".into(),
                phrasings: vec![],
            },
        ]
    }

    #[test]
    fn ranks_and_synonyms() {
        let idx = FaqIndex::new(&entries());
        assert_eq!(idx.best("امتى يوصل الشحن").unwrap().id, "ship");
        assert_eq!(idx.best("ابي ارجع المنتج").unwrap().id, "ret");
        assert_eq!(idx.best("كيف ادفع").unwrap().id, "pay");
        assert!(idx.search("", 3).is_empty());
        assert!(FaqIndex::new(&[]).search("hi", 3).is_empty());
        let custom = FaqIndex::with_synonyms(&entries(), &[vec!["بطاقه".into(), "payment".into()]]);
        assert_eq!(custom.best("بطاقه").unwrap().id, "pay");
    }
}
