//! The web console: server-rendered pages (Arabic right-to-left and English), served by the
//! same binary as the API, with its templates, styles, script and translations compiled in.
//!
//! Why server-rendered: a merchant's staff open it on cheap phones over mobile data; HTML
//! from the server is fast on first paint, needs no build step, and escaping happens in one
//! place (minijinja auto-escapes every `{{ }}` in `.html` templates, so customer-controlled
//! names, notes and messages can never become markup). The little JavaScript there is
//! (`assets/app.js`) only enhances: copy buttons, import progress, confirmations.
//!
//! Security model: the session lives in an `HttpOnly`, `SameSite=Lax` cookie (`Secure` when
//! the server's public URL is https or a proxy says the request was); every form carries a
//! CSRF token derived from the session (HMAC of the session's hash, so nothing extra is
//! stored), checked on every POST together with the `Origin` header; the sign-in form uses a
//! double-submit cookie. Sign-in is rate-limited by the same limiter as the API.
//! Handlers stay thin, as in `http/`: extract, authorise, call the store, render.

pub mod charts;
pub mod i18n;
mod mail;
mod pages;
mod session;

pub use mail::Mailer;
pub use session::Console;

use crate::error::AppError;
use crate::http::AppState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use i18n::Lang;
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, State};
use std::sync::LazyLock;

/// Every template, compiled in. Names end in `.html`, so auto-escaping is on for all of them.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("login.html", include_str!("templates/login.html")),
    ("forgot.html", include_str!("templates/forgot.html")),
    ("reset.html", include_str!("templates/reset.html")),
    ("dashboard.html", include_str!("templates/dashboard.html")),
    ("customers.html", include_str!("templates/customers.html")),
    ("customer.html", include_str!("templates/customer.html")),
    ("merge.html", include_str!("templates/merge.html")),
    ("orders.html", include_str!("templates/orders.html")),
    ("order.html", include_str!("templates/order.html")),
    ("analytics.html", include_str!("templates/analytics.html")),
    ("sources.html", include_str!("templates/sources.html")),
    ("source.html", include_str!("templates/source.html")),
    ("imports.html", include_str!("templates/imports.html")),
    ("import.html", include_str!("templates/import.html")),
    ("settings.html", include_str!("templates/settings.html")),
    ("error.html", include_str!("templates/error.html")),
];

const APP_CSS: &str = include_str!("assets/app.css");
const APP_JS: &str = include_str!("assets/app.js");
const FAVICON: &str = include_str!("assets/favicon.svg");

fn lang_of(state: &State) -> Lang {
    state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(Lang::parse))
        .unwrap_or(Lang::En)
}

fn tz_of(state: &State) -> String {
    state
        .lookup("tz")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "UTC".into())
}

/// A timestamp value: UTC milliseconds or an RFC 3339 string.
fn instant(v: &Value) -> Option<i64> {
    if let Some(s) = v.as_str() {
        return i18n::parse_instant(s);
    }
    i64::try_from(v.clone()).ok()
}

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, src) in TEMPLATES {
        if let Err(e) = env.add_template(name, src) {
            // A template syntax error is a build bug; the tests render every page.
            tracing::error!(template = name, error = %e, "template does not compile");
        }
    }
    env.add_function(
        "t",
        |state: &State, key: &str, kwargs: Kwargs| -> Result<String, minijinja::Error> {
            let lang = lang_of(state);
            let mut s = i18n::t(lang, key);
            for k in kwargs.args() {
                let v: Value = kwargs.get(k)?;
                let shown = match i64::try_from(v.clone()) {
                    Ok(n) if !v.is_safe() && v.as_str().is_none() => i18n::int(n, lang),
                    _ => v.to_string(),
                };
                s = s.replace(&format!("{{{k}}}"), &shown);
            }
            Ok(s)
        },
    );
    env.add_filter("num", |state: &State, v: Value| -> String {
        let lang = lang_of(state);
        match i64::try_from(v.clone()) {
            Ok(n) => i18n::int(n, lang),
            Err(_) => f64::try_from(v)
                .map(|x| i18n::decimal(x, 1, lang))
                .unwrap_or_default(),
        }
    });
    env.add_filter(
        "money",
        |state: &State, minor: Value, currency: &str| -> String {
            i64::try_from(minor)
                .map(|m| i18n::money(m, currency, lang_of(state)))
                .unwrap_or_default()
        },
    );
    env.add_filter("pct", |state: &State, v: Value| -> String {
        f64::try_from(v)
            .map(|x| i18n::percent(x, lang_of(state)))
            .unwrap_or_default()
    });
    env.add_filter("date", |state: &State, v: Value| -> String {
        instant(&v)
            .map(|ms| i18n::date(ms, &tz_of(state), lang_of(state)))
            .unwrap_or_else(|| "—".into())
    });
    env.add_filter("datetime", |state: &State, v: Value| -> String {
        instant(&v)
            .map(|ms| i18n::datetime(ms, &tz_of(state), lang_of(state)))
            .unwrap_or_else(|| "—".into())
    });
    env.add_filter("hijri", |state: &State, v: Value| -> String {
        instant(&v)
            .map(|ms| i18n::hijri(ms, &tz_of(state), lang_of(state)))
            .unwrap_or_default()
    });
    env.add_filter("iso", |v: Value| -> String {
        instant(&v)
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .map(|t| t.to_string())
            .unwrap_or_default()
    });
    env
});

/// Render a page; a template error becomes a 500 page (and a log line), never a panic.
pub fn render(name: &str, ctx: Value) -> Response {
    let result = ENV.get_template(name).and_then(|t| t.render(ctx));
    match result {
        Ok(html) => page_response(StatusCode::OK, html),
        Err(e) => {
            tracing::error!(template = name, error = %e, "page failed to render");
            page_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><title>Error</title><p>Something went wrong on our side. Nothing was changed. / حدث خطأ من جهتنا. لم يتم تغيير أي شيء.</p>".into(),
            )
        }
    }
}

fn page_response(status: StatusCode, html: String) -> Response {
    let mut r = (status, Html(html)).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

/// An error shown as a page in the viewer's language (stable code included).
pub fn error_page(lang: Lang, err: &AppError) -> Response {
    let message = match lang {
        Lang::Ar => err.code.message_ar(),
        Lang::En => err.code.message_en(),
    };
    let status = StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let ctx = minijinja::context! {
        lang => lang.code(), dir => lang.dir(), tz => "UTC",
        code => err.code.as_str(),
        message => message,
        detail => err.detail.clone(),
        status => status.as_u16(),
    };
    let mut r = render("error.html", ctx);
    *r.status_mut() = status;
    r
}

async fn asset_css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}
async fn asset_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}
async fn asset_favicon() -> Response {
    asset("image/svg+xml", FAVICON)
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

/// The language for a visitor who is not signed in: the `wafa_lang` cookie, else the
/// browser's `Accept-Language`, else English.
pub fn visitor_lang(headers: &HeaderMap) -> Lang {
    session::cookie(headers, session::LANG_COOKIE)
        .and_then(|v| Lang::parse(&v))
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or(Lang::En)
}

/// The console's routes (merged into the API router, which owns the fallback).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/assets/app.css", get(asset_css))
        .route("/assets/app.js", get(asset_js))
        .route("/favicon.svg", get(asset_favicon))
        .route(
            "/login",
            get(session::login_page).post(session::login_submit),
        )
        .route("/logout", post(session::logout))
        .route(
            "/forgot",
            get(session::forgot_page).post(session::forgot_submit),
        )
        .route(
            "/reset/{token}",
            get(session::reset_page).post(session::reset_submit),
        )
        .route("/language", post(session::switch_language))
        .merge(pages::routes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_compiles() {
        for (name, _) in super::TEMPLATES {
            assert!(
                super::ENV.get_template(name).is_ok(),
                "{name} does not compile"
            );
        }
    }

    #[test]
    fn assets_are_small() {
        // The budget is ~100 KB of JavaScript per page (gzipped); we ship a few KB.
        assert!(super::APP_JS.len() < 20_000);
        assert!(super::APP_CSS.len() < 40_000);
    }
}
