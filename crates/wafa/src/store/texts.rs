//! Tags (language, sentiment, intent) on inbound texts, and the sentiment trend they give.
//!
//! The tagging itself is `wafa_text` (pure, ~30 µs a message); it runs here so that a text
//! and its tags are written in the same transaction and no text is ever stored untagged.

use super::sql::{Sql, Val};
use super::Store;
use crate::error::AppResult;
use serde::Serialize;
use sqlx::{AnyConnection, Row};
use utoipa::ToSchema;

/// The `text_tags` row for a text (columns as in [`TAG_COLS`]).
pub(crate) fn tag_row(
    workspace_id: i64,
    customer_id: i64,
    kind: &str,
    ref_id: Option<i64>,
    at: i64,
    text: &str,
) -> Vec<Val> {
    let v = serde_json::to_value(wafa_text::tagger().tag(text)).unwrap_or_default();
    let s = |p: &str| {
        Val::S(
            v.pointer(p)
                .and_then(|x| x.as_str())
                .unwrap_or("")
                .to_owned(),
        )
    };
    let milli = |p: &str| {
        Val::I((v.pointer(p).and_then(|x| x.as_f64()).unwrap_or(0.0) * 1000.0).round() as i64)
    };
    vec![
        Val::I(workspace_id),
        Val::I(customer_id),
        Val::S(kind.to_owned()),
        Val::NI(ref_id),
        Val::I(at),
        s("/lang"),
        s("/sentiment/label"),
        milli("/sentiment/score"),
        s("/intent/label"),
        milli("/intent/score"),
    ]
}

pub(crate) const TAG_COLS: [&str; 10] = [
    "workspace_id",
    "customer_id",
    "kind",
    "ref_id",
    "at",
    "lang",
    "sentiment",
    "sentiment_milli",
    "intent",
    "intent_milli",
];

pub(crate) async fn tag_text(
    conn: &mut AnyConnection,
    workspace_id: i64,
    customer_id: i64,
    kind: &str,
    ref_id: Option<i64>,
    at: i64,
    text: &str,
) -> AppResult<()> {
    let mut q = Sql::new("INSERT INTO text_tags (workspace_id, customer_id, kind, ref_id, at, lang, sentiment, sentiment_milli, intent, intent_milli) VALUES ");
    q.list(tag_row(workspace_id, customer_id, kind, ref_id, at, text));
    q.query().execute(&mut *conn).await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaggedText {
    /// note, message, review, survey.
    pub kind: String,
    pub ref_id: Option<i64>,
    pub at: String,
    pub lang: String,
    pub sentiment: String,
    /// −1 (negative) … 1 (positive).
    pub sentiment_score: f64,
    pub intent: String,
    pub intent_score: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SentimentMonth {
    /// `YYYY-MM` (UTC).
    pub month: String,
    pub texts: i64,
    pub average: f64,
    pub positive: i64,
    pub negative: i64,
    pub neutral: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SentimentTrend {
    pub texts: i64,
    /// Mean sentiment score, −1 … 1 (0 with no texts).
    pub average: f64,
    /// Oldest month first.
    pub by_month: Vec<SentimentMonth>,
    /// The latest 20 tagged texts, newest first.
    pub recent: Vec<TaggedText>,
}

impl Store {
    pub async fn sentiment_trend(
        &self,
        workspace_id: i64,
        customer_id: i64,
    ) -> AppResult<SentimentTrend> {
        let rows = sqlx::query("SELECT kind, ref_id, at, lang, sentiment, sentiment_milli, intent, intent_milli FROM text_tags WHERE customer_id = $1 AND workspace_id = $2 ORDER BY at DESC, id DESC LIMIT 5000")
            .bind(customer_id)
            .bind(workspace_id)
            .fetch_all(&self.read)
            .await?;
        let texts: Vec<(i64, TaggedText)> = rows
            .iter()
            .map(|r| {
                let at: i64 = r.get("at");
                (
                    at,
                    TaggedText {
                        kind: r.get("kind"),
                        ref_id: r.get("ref_id"),
                        at: wafa_domain::time::format_ms(at),
                        lang: r.get("lang"),
                        sentiment: r.get("sentiment"),
                        sentiment_score: r.get::<i64, _>("sentiment_milli") as f64 / 1000.0,
                        intent: r.get("intent"),
                        intent_score: r.get::<i64, _>("intent_milli") as f64 / 1000.0,
                    },
                )
            })
            .collect();
        let mut months: std::collections::BTreeMap<String, SentimentMonth> = Default::default();
        for (_, t) in &texts {
            let m = months
                .entry(t.at[..7].to_owned())
                .or_insert_with(|| SentimentMonth {
                    month: t.at[..7].to_owned(),
                    texts: 0,
                    average: 0.0,
                    positive: 0,
                    negative: 0,
                    neutral: 0,
                });
            m.texts += 1;
            m.average += t.sentiment_score;
            match t.sentiment.as_str() {
                "positive" => m.positive += 1,
                "negative" => m.negative += 1,
                _ => m.neutral += 1,
            }
        }
        let total: f64 = texts.iter().map(|(_, t)| t.sentiment_score).sum();
        let n = texts.len() as i64;
        Ok(SentimentTrend {
            texts: n,
            average: if n > 0 {
                (total / n as f64 * 1000.0).round() / 1000.0
            } else {
                0.0
            },
            by_month: months
                .into_values()
                .map(|mut m| {
                    m.average = (m.average / m.texts as f64 * 1000.0).round() / 1000.0;
                    m
                })
                .collect(),
            recent: texts.into_iter().take(20).map(|(_, t)| t).collect(),
        })
    }
}
