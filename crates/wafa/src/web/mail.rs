//! Outgoing e-mail for the console (password-reset links) over SMTP with lettre.
//!
//! `WAFA_SMTP_URL` takes lettre's URL form: `smtp://host:25` (plain, for a local relay),
//! `smtp://user:pass@host:587?tls=required` (STARTTLS) or `smtps://user:pass@host:465`.

use super::i18n::{self, Lang};
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from).finish()
    }
}

impl Mailer {
    pub fn from_url(url: &str, from: &str) -> Result<Mailer, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("WAFA_SMTP_URL: {e}"))?
            .build();
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("WAFA_MAIL_FROM {from:?}: {e}"))?;
        Ok(Mailer { transport, from })
    }

    /// The reset e-mail in the user's language, as text and as simple HTML.
    pub async fn send_reset(&self, to: &str, link: &str, lang: Lang) -> Result<(), String> {
        let to: Mailbox = to.parse().map_err(|e| format!("recipient: {e}"))?;
        let subject = i18n::t(lang, "mail.reset.subject");
        let intro = i18n::t(lang, "mail.reset.body");
        let outro = i18n::t(lang, "mail.reset.ignore");
        let text = format!("{intro}\n\n{link}\n\n{outro}\n");
        let esc = super::charts::esc;
        let html = format!(
            "<!doctype html><html lang=\"{l}\" dir=\"{d}\"><body style=\"font-family:sans-serif\"><p>{}</p><p><a href=\"{}\">{}</a></p><p>{}</p></body></html>",
            esc(&intro),
            esc(link),
            esc(&i18n::t(lang, "mail.reset.button")),
            esc(&outro),
            l = lang.code(),
            d = lang.dir(),
        );
        let msg = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(text),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(html),
                    ),
            )
            .map_err(|e| e.to_string())?;
        self.transport
            .send(msg)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
