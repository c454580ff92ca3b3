//! Customer-level rules: consent per channel, language, and when two profiles may merge.
//!
//! Why consent lives here: merging two records must never turn a "no" into a "yes". The rule
//! that decides it is pure and is tested here, not buried in SQL.

use serde::{Deserialize, Serialize};

/// A channel a merchant can message a customer on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    Whatsapp,
    Push,
}

impl Channel {
    pub const ALL: [Channel; 4] = [
        Channel::Email,
        Channel::Sms,
        Channel::Whatsapp,
        Channel::Push,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Whatsapp => "whatsapp",
            Channel::Push => "push",
        }
    }
    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// What the customer said about a channel. `Unknown` is not consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    Granted,
    Revoked,
    Unknown,
}

impl ConsentState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentState::Granted => "granted",
            ConsentState::Revoked => "revoked",
            ConsentState::Unknown => "unknown",
        }
    }
    pub fn parse(s: &str) -> Option<ConsentState> {
        match s {
            "granted" => Some(ConsentState::Granted),
            "revoked" => Some(ConsentState::Revoked),
            "unknown" => Some(ConsentState::Unknown),
            _ => None,
        }
    }
}

/// One channel's consent, with when and where it was recorded (for proof of consent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub channel: Channel,
    pub state: ConsentState,
    /// Milliseconds since the Unix epoch, UTC.
    pub updated_at: i64,
    /// Where it came from: `api`, `import`, `shopify`, `unsubscribe_link`, …
    #[serde(default)]
    pub source: Option<String>,
}

/// Channels on which the two consent sets disagree outright (one granted, the other revoked).
/// A merge with any such channel needs an explicit choice from a person.
pub fn conflicting_channels(a: &[Consent], b: &[Consent]) -> Vec<Channel> {
    let mut out = Vec::new();
    for ca in a {
        if let Some(cb) = b.iter().find(|cb| cb.channel == ca.channel) {
            let clash = matches!(
                (ca.state, cb.state),
                (ConsentState::Granted, ConsentState::Revoked)
                    | (ConsentState::Revoked, ConsentState::Granted)
            );
            if clash && !out.contains(&ca.channel) {
                out.push(ca.channel);
            }
        }
    }
    out.sort();
    out
}

/// The consent set of a merged profile. Where the two disagree, `resolution` decides
/// (channel → state); without one the caller must have refused the merge already. Otherwise a
/// known state wins over unknown, and of two known states the more recent one.
pub fn merge_consents(
    a: &[Consent],
    b: &[Consent],
    resolution: &[(Channel, ConsentState)],
) -> Vec<Consent> {
    let mut out: Vec<Consent> = Vec::new();
    for ch in Channel::ALL {
        let ca = a.iter().find(|c| c.channel == ch);
        let cb = b.iter().find(|c| c.channel == ch);
        let chosen = match (ca, cb) {
            (None, None) => None,
            (Some(x), None) | (None, Some(x)) => Some(x.clone()),
            (Some(x), Some(y)) => {
                if let Some((_, state)) = resolution.iter().find(|(c, _)| *c == ch) {
                    let newest = if x.updated_at >= y.updated_at { x } else { y };
                    Some(Consent {
                        channel: ch,
                        state: *state,
                        updated_at: newest.updated_at,
                        source: Some("merge_resolution".into()),
                    })
                } else if x.state == ConsentState::Unknown {
                    Some(y.clone())
                } else if y.state == ConsentState::Unknown || x.updated_at >= y.updated_at {
                    Some(x.clone())
                } else {
                    Some(y.clone())
                }
            }
        };
        out.extend(chosen);
    }
    out
}

/// The language a customer is written to in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Ar,
    En,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Ar => "ar",
            Language::En => "en",
        }
    }
    /// Accepts `ar`, `ar-SA`, `en_US`, `arabic`, `English`…
    pub fn parse(s: &str) -> Option<Language> {
        let l = s.trim().to_ascii_lowercase();
        if l == "ar"
            || l.starts_with("ar-")
            || l.starts_with("ar_")
            || l == "arabic"
            || l == "العربية"
        {
            Some(Language::Ar)
        } else if l == "en" || l.starts_with("en-") || l.starts_with("en_") || l == "english" {
            Some(Language::En)
        } else {
            None
        }
    }
}

/// Validate a tag: trimmed, 1..=64 characters, no control characters.
pub fn normalize_tag(tag: &str) -> Option<String> {
    let t = tag.trim();
    if t.is_empty() || t.chars().count() > 64 || t.chars().any(char::is_control) {
        return None;
    }
    Some(t.to_owned())
}

/// Validate a birthday given as `YYYY-MM-DD` or `--MM-DD` (year unknown, ISO 8601).
pub fn parse_birthday(s: &str) -> Option<String> {
    let s = s.trim();
    let (year, rest) = if let Some(rest) = s.strip_prefix("--") {
        (None, rest)
    } else {
        let (y, rest) = s.split_once('-')?;
        (
            Some(
                y.parse::<i32>()
                    .ok()
                    .filter(|y| (1900..=2100).contains(y))?,
            ),
            rest,
        )
    };
    let (m, d) = rest.split_once('-')?;
    let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    let leap = year
        .map(|y| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0)
        .unwrap_or(true);
    let max = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if d == 0 || d > max {
        return None;
    }
    Some(match year {
        Some(y) => format!("{y:04}-{m:02}-{d:02}"),
        None => format!("--{m:02}-{d:02}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(channel: Channel, state: ConsentState, at: i64) -> Consent {
        Consent {
            channel,
            state,
            updated_at: at,
            source: None,
        }
    }

    #[test]
    fn conflicts_only_on_opposite_known_states() {
        let a = vec![
            c(Channel::Email, ConsentState::Granted, 1),
            c(Channel::Sms, ConsentState::Unknown, 1),
        ];
        let b = vec![
            c(Channel::Email, ConsentState::Revoked, 2),
            c(Channel::Sms, ConsentState::Revoked, 2),
        ];
        assert_eq!(conflicting_channels(&a, &b), vec![Channel::Email]);
        assert!(conflicting_channels(&a, &a).is_empty());
    }

    #[test]
    fn merge_never_invents_consent() {
        let a = vec![c(Channel::Sms, ConsentState::Unknown, 5)];
        let b = vec![c(Channel::Sms, ConsentState::Revoked, 1)];
        let m = merge_consents(&a, &b, &[]);
        assert_eq!(m[0].state, ConsentState::Revoked);
        let a = vec![c(Channel::Email, ConsentState::Granted, 1)];
        let b = vec![c(Channel::Email, ConsentState::Revoked, 2)];
        let m = merge_consents(&a, &b, &[(Channel::Email, ConsentState::Revoked)]);
        assert_eq!(m[0].state, ConsentState::Revoked);
    }

    #[test]
    fn birthdays() {
        assert_eq!(parse_birthday("1990-02-28").as_deref(), Some("1990-02-28"));
        assert_eq!(parse_birthday("--02-29").as_deref(), Some("--02-29"));
        assert_eq!(parse_birthday("1991-02-29"), None);
        assert_eq!(parse_birthday("1990-13-01"), None);
        assert_eq!(parse_birthday("garbage"), None);
        assert_eq!(Language::parse("ar-SA"), Some(Language::Ar));
        assert_eq!(normalize_tag("  vip "), Some("vip".into()));
        assert_eq!(normalize_tag(" "), None);
    }
}
