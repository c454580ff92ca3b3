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
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' => {
            return None
        }
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
    let mut tokens: Vec<String> = key.split(' ').filter(|t| !t.is_empty()).map(str::to_owned).collect();
    tokens.sort();
    tokens.dedup();
    tokens
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
        assert_eq!(search_tokens("أحمد احمد علي"), vec!["احمد".to_string(), "علي".to_string()]);
    }
}
