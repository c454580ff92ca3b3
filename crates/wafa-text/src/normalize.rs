//! Normalisation for search keys.
//!
//! Why: customers' names arrive typed many ways (أحمد / احمد / اَحمد, فاطمة / فاطمه, مى / مي).
//! Search must treat those as one, so both the stored key and the query go through
//! [`search_key`]. This function's output is persisted in the database, so changing it
//! requires re-indexing (the store rebuilds keys on migration when `SEARCH_KEY_VERSION` changes).

/// Bump when [`search_key`] output changes for any input.
pub const SEARCH_KEY_VERSION: u32 = 1;

/// Fold one character for search; `None` drops it.
fn fold_char(c: char) -> Option<char> {
    Some(match c {
        // Alef with hamza/madda/wasla → bare alef.
        'أ' | 'إ' | 'آ' | 'ٱ' => 'ا',
        // Taa marbuta → haa; alef maqsura → yaa.
        'ة' => 'ه',
        'ى' => 'ي',
        // Hamza on waw/yaa → the carrier letter.
        'ؤ' => 'و',
        'ئ' => 'ي',
        // Persian/Urdu letter forms that appear in Gulf typing.
        'ی' | 'ې' => 'ي',
        'ک' => 'ك',
        // Tashkeel, superscript alef, tatweel: dropped.
        '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{0640}' => return None,
        // Arabic-Indic and extended (Persian) digits → ASCII.
        '\u{0660}'..='\u{0669}' => char::from(b'0' + (c as u32 - 0x0660) as u8),
        '\u{06F0}'..='\u{06F9}' => char::from(b'0' + (c as u32 - 0x06F0) as u8),
        // Bidi and zero-width controls: dropped.
        '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}' => return None,
        _ => c,
    })
}

/// A search key: folded, lowercased, punctuation turned into single spaces, trimmed.
pub fn search_key(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut pending_space = false;
    for c in input.chars() {
        let Some(f) = fold_char(c) else { continue };
        if f.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            for l in f.to_lowercase() {
                out.push(l);
            }
        } else {
            pending_space = true;
        }
    }
    out
}

/// The distinct words of [`search_key`], for token-prefix indexes.
pub fn search_tokens(input: &str) -> Vec<String> {
    let key = search_key(input);
    let mut tokens: Vec<String> = key
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    tokens.sort();
    tokens.dedup();
    tokens
}

// ---------------------------------------------------------------------------
// Model-oriented normalisation.
//
// Why a second normaliser: `search_key` is persisted and must stay stable and
// minimal, while the models want more aggressive folding (elongation, emoji as
// tokens, `?`/`!` kept as signals, digits separated from Arabic letters). Both
// share `fold_char` so Arabic spelling variants are folded identically.
// ---------------------------------------------------------------------------

/// True for pictographic emoji and common symbol blocks that carry sentiment.
pub fn is_emoji(c: char) -> bool {
    matches!(c as u32,
        0x1F300..=0x1F5FF | 0x1F600..=0x1F64F | 0x1F680..=0x1F6FF | 0x1F900..=0x1F9FF
        | 0x1FA70..=0x1FAFF | 0x2600..=0x27BF | 0x2B50 | 0x2B55)
}

/// Characters dropped outright: emoji modifiers, variation selectors, joiners, tags.
fn is_emoji_modifier(c: char) -> bool {
    matches!(c as u32, 0x1F3FB..=0x1F3FF | 0xFE00..=0xFE0F | 0x200D | 0xE0020..=0xE007F | 0x20E3)
}

pub(crate) fn is_arabic_letter(c: char) -> bool {
    matches!(c as u32, 0x0621..=0x064A | 0x0671..=0x06D3 | 0x06FA..=0x06FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF)
}

/// Character class used by the model tokenizer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    Arabic,
    Latin,
    Digit,
}

fn class_of(c: char) -> Option<Class> {
    if c.is_ascii_digit() {
        Some(Class::Digit)
    } else if is_arabic_letter(c) {
        Some(Class::Arabic)
    } else if c.is_alphabetic() || c == '\'' {
        Some(Class::Latin)
    } else {
        None
    }
}

/// Extra folding for the models on top of [`fold_char`]: presentation forms and
/// the Persian letters that Gulf keyboards produce.
fn model_fold(c: char) -> Option<char> {
    let c = fold_char(c)?;
    Some(match c {
        'گ' => 'ك',
        'چ' => 'ج',
        'پ' => 'ب',
        'ڤ' => 'ف',
        'ە' | 'ۀ' | 'ہ' => 'ه',
        '،' | '؛' => ',',
        '؟' => '?',
        '٪' => '%',
        _ => c,
    })
}

/// Normalise text for the models: folded Arabic letters, lowercase, elongations
/// collapsed (Arabic letter runs of 3+ → 1, except laughter `ههه` → `هه`; Latin
/// runs of 3+ → 2, so "goooood" → "good"), emoji split out as their own tokens,
/// `?` and `!` kept as tokens, other punctuation → space, digits split from Arabic
/// letters (but kept inside Arabizi words such as `3ayez`). Output is
/// space-separated tokens. Invisible controls are dropped. Never panics.
pub fn normalize(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + 8);
    let mut prev_class: Option<Class> = None;
    let mut last: char = '\0';
    let mut run = 0usize;
    let mut need_space = false;
    let mut last_punct = '\0';
    for raw in input.chars() {
        if is_emoji_modifier(raw) || raw.is_control() {
            if raw.is_control() {
                need_space = true;
                prev_class = None;
            }
            continue;
        }
        let Some(c) = model_fold(raw) else { continue };
        if is_emoji(c) {
            // Each emoji is a token; repeated emoji collapse to two.
            if c == last {
                run += 1;
                if run >= 2 {
                    continue;
                }
            } else {
                run = 0;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push(c);
            last = c;
            prev_class = None;
            need_space = true;
            last_punct = '\0';
            continue;
        }
        if c == '?' || c == '!' {
            if last_punct != c {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push(c);
                last_punct = c;
            }
            last = c;
            run = 0;
            prev_class = None;
            need_space = true;
            continue;
        }
        let Some(class) = class_of(c) else {
            need_space = true;
            prev_class = None;
            last = '\0';
            continue;
        };
        // Apostrophes only matter inside Latin words ("don't").
        if c == '\'' && prev_class != Some(Class::Latin) {
            need_space = true;
            continue;
        }
        let boundary = matches!(
            (prev_class, class),
            (None, _)
                | (Some(Class::Arabic), Class::Latin)
                | (Some(Class::Latin), Class::Arabic)
                | (Some(Class::Arabic), Class::Digit)
                | (Some(Class::Digit), Class::Arabic)
        );
        if boundary || need_space {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
            need_space = false;
            run = 0;
            last = '\0';
        }
        last_punct = '\0';
        for l in c.to_lowercase() {
            if l == last {
                run += 1;
                let keep = match class {
                    // Arabic doubles are real spelling (ممتاز); a third repeat
                    // marks elongation, which folds back to one letter.
                    Class::Arabic if l != 'ه' => {
                        if run == 2 {
                            out.pop();
                        }
                        run < 2
                    }
                    Class::Arabic | Class::Latin => run < 2,
                    Class::Digit => true,
                };
                if !keep {
                    continue;
                }
            } else {
                run = 0;
            }
            out.push(l);
            last = l;
        }
        prev_class = Some(class);
    }
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

/// True when `input` contains a run of 3+ identical letters (an elongation such
/// as "جميييل" or "sooo"), a sentiment-intensity cue the models use as a feature.
pub fn has_elongation(input: &str) -> bool {
    let mut last = '\0';
    let mut run = 0;
    for c in input.chars() {
        if c.is_alphabetic() && c == last {
            run += 1;
            if run >= 2 {
                return true;
            }
        } else {
            run = 0;
            last = c;
        }
    }
    false
}

/// Remove emoji (and their modifiers) from text. Used by the training pipeline
/// for the emoji-labelled ATSAD corpus, whose labels were derived from emoji.
pub fn strip_emoji(input: &str) -> String {
    input
        .chars()
        .filter(|&c| !is_emoji(c) && !is_emoji_modifier(c))
        .collect()
}

/// True if a normalised token is Arabic script.
pub fn is_arabic_token(tok: &str) -> bool {
    tok.chars().next().is_some_and(is_arabic_letter)
}

/// True if a normalised token is an emoji token.
pub fn is_emoji_token(tok: &str) -> bool {
    let mut it = tok.chars();
    matches!((it.next(), it.next()), (Some(c), None) if is_emoji(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_arabic_variants() {
        assert_eq!(search_key("أحمد"), search_key("احمد"));
        assert_eq!(search_key("إبراهيم"), search_key("ابراهيم"));
        assert_eq!(search_key("فاطمة"), search_key("فاطمه"));
        assert_eq!(search_key("مُحَمَّد"), search_key("محمد"));
        assert_eq!(search_key("مــحمد"), "محمد");
        assert_eq!(search_key("مى"), search_key("مي"));
        assert_eq!(search_key("John  O'Neil"), "john o neil");
        assert_eq!(search_key("٠٥٠١٢٣"), "050123");
    }

    #[test]
    fn tokens_are_unique() {
        assert_eq!(
            search_tokens("أحمد احمد علي"),
            vec!["احمد".to_string(), "علي".to_string()]
        );
    }

    #[test]
    fn model_normalisation() {
        assert_eq!(normalize("جميييييل"), "جميل");
        assert_eq!(normalize("هههههه حلو"), "هه حلو");
        assert_eq!(normalize("Goooood!!!"), "good !");
        assert_eq!(normalize("مُمْتَاز جداً"), "ممتاز جدا");
        assert_eq!(normalize("أرجو إرجاع الطلبية"), "ارجو ارجاع الطلبيه");
        assert_eq!(normalize("رقم الطلب ١٢٣٤٥"), "رقم الطلب 12345");
        assert_eq!(normalize("٣قطع"), "3 قطع");
        assert_eq!(
            normalize("3ayez a3raf el order fen?"),
            "3ayez a3raf el order fen ?"
        );
        assert_eq!(normalize("حلو😍😍😍👍🏽"), "حلو 😍 😍 👍");
        assert_eq!(normalize("don't"), "don't");
        assert_eq!(
            normalize("\u{200F}مرحبا\u{200E} \u{202B}hi\u{202C}"),
            "مرحبا hi"
        );
        assert_eq!(normalize("شو؟؟"), "شو ?");
        assert_eq!(normalize(""), "");
        assert!(has_elongation("حلووووو"));
        assert!(!has_elongation("حلو"));
        assert_eq!(strip_emoji("حلو 😍👍🏽"), "حلو ");
    }
}
