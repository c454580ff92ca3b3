//! Signing in and out, password reset by e-mailed link, the language switch, and the
//! [`Console`] extractor every page uses (session cookie → principal, user, workspace,
//! language, CSRF token).

use super::i18n::{self, Lang};
use super::{error_page, render, visitor_lang};
use crate::auth::{hash_password, new_token, token_hash};
use crate::error::AppError;
use crate::http::account::{authenticate, SESSION_TTL_MS};
pub use crate::http::extract::cookie;
use crate::http::extract::SESSION_COOKIE;
use crate::http::AppState;
use crate::store::{Principal, UserAccount, WorkspaceRecord};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use base64::Engine;
use hmac::{Hmac, Mac};
use minijinja::context;
use serde::Deserialize;
use sha2::Sha256;
use std::collections::HashMap;
use wafa_domain::{ErrorCode, Permission};

pub const LANG_COOKIE: &str = "wafa_lang";
pub const LOGIN_CSRF_COOKIE: &str = "wafa_login_csrf";
const RESET_PREFIX: &str = "wafa_rst_";
const RESET_TTL_MS: i64 = 60 * 60 * 1000;
const MIN_PASSWORD: usize = 10;

/// Whether cookies should carry `Secure`: the public URL is https, or a proxy in front says
/// the request came over https.
fn secure(st: &AppState, headers: &HeaderMap) -> bool {
    st.config.public_url.starts_with("https://")
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.eq_ignore_ascii_case("https"))
            .unwrap_or(false)
}

fn set_cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    let s = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static("x=; Max-Age=0"))
}

fn with_cookies(mut r: Response, cookies: Vec<HeaderValue>) -> Response {
    for c in cookies {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// The session's CSRF token: HMAC-SHA256 keyed by the session token's hash. An attacker's
/// page cannot read it (it is only in our pages), and it changes with every session.
fn csrf_for(session_hash: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(session_hash.as_bytes()).expect("any key length");
    mac.update(b"wafa-console-csrf");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A POST from another site is refused even before the token is checked: browsers send
/// `Origin` on cross-origin POSTs, and it must name this host.
pub fn origin_ok(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let o = origin
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    o == host
}

/// A signed-in staff member on a console page.
pub struct Console {
    pub p: Principal,
    pub user: UserAccount,
    pub workspace: WorkspaceRecord,
    pub lang: Lang,
    pub csrf: String,
    pub path: String,
}

impl Console {
    /// Check a submitted form's CSRF token.
    pub fn check_csrf(&self, token: Option<&str>) -> Result<(), AppError> {
        match token {
            Some(t) if same(t, &self.csrf) => Ok(()),
            _ => Err(AppError::new(
                ErrorCode::Forbidden,
                "the form expired or came from another site; reload the page and try again",
            )),
        }
    }

    pub fn can(&self, p: Permission) -> bool {
        self.p.allows(p)
    }

    pub fn fail(&self, e: AppError) -> Response {
        error_page(self.lang, &e)
    }

    /// The context every page shares (layout, navigation, language, CSRF).
    pub fn base(&self) -> minijinja::Value {
        let nav: Vec<(&str, &str, &str)> = [
            ("dashboard", "/", Permission::OrdersRead),
            ("customers", "/customers", Permission::CustomersRead),
            ("orders", "/orders", Permission::OrdersRead),
            ("analytics", "/analytics", Permission::CustomersRead),
            ("sources", "/sources", Permission::SourcesRead),
            ("imports", "/imports", Permission::Import),
            ("settings", "/settings", Permission::WorkspaceManage),
        ]
        .into_iter()
        .filter(|(_, _, perm)| self.can(*perm))
        .map(|(k, href, _)| (k, href, k))
        .collect();
        let section = self
            .path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("")
            .to_owned();
        context! {
            lang => self.lang.code(),
            dir => self.lang.dir(),
            other_lang => match self.lang { Lang::Ar => "en", Lang::En => "ar" },
            tz => self.workspace.timezone.clone(),
            csrf => self.csrf.clone(),
            path => self.path.clone(),
            section => if section.is_empty() { "dashboard".to_owned() } else { section },
            nav => nav.iter().map(|(k, href, _)| context!{ key => *k, href => *href }).collect::<Vec<_>>(),
            user => context! { email => self.user.email.clone(), name => self.user.name.clone() },
            role => self.p.role.map(|r| r.as_str()).unwrap_or(""),
            workspace => context! {
                name => self.workspace.name.clone(),
                currency => self.workspace.default_currency.clone(),
                region => self.workspace.default_region.clone(),
                timezone => self.workspace.timezone.clone(),
                language => self.workspace.language.clone(),
            },
            perms => self.p.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        }
    }
}

/// Not signed in (or the session ended): go to the sign-in page, remembering where to.
pub struct ToLogin(Response);

impl IntoResponse for ToLogin {
    fn into_response(self) -> Response {
        self.0
    }
}

impl FromRequestParts<AppState> for Console {
    type Rejection = ToLogin;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ToLogin> {
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".into());
        let lang = visitor_lang(&parts.headers);
        let next = if parts.method == Method::GET {
            path.clone()
        } else {
            "/".into()
        };
        let to_login = |expired: bool| {
            let url = format!(
                "/login?next={}{}",
                urlencode(&next),
                if expired { "&expired=1" } else { "" }
            );
            let mut r = Redirect::to(&url).into_response();
            if expired {
                r.headers_mut().append(
                    header::SET_COOKIE,
                    set_cookie(SESSION_COOKIE, "", 0, secure(st, &parts.headers)),
                );
            }
            ToLogin(r)
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_login(false));
        };
        let hash = token_hash(&token);
        let principal = match st.store.session_principal(&hash).await {
            Ok(Some(p)) => p,
            Ok(None) => return Err(to_login(true)),
            Err(e) => return Err(ToLogin(error_page(lang, &e))),
        };
        let Some(user_id) = principal.user_id else {
            return Err(to_login(true));
        };
        let (user, workspace) = match tokio::try_join!(
            st.store.user_account(user_id),
            st.store.get_workspace(principal.workspace_id)
        ) {
            Ok(x) => x,
            Err(e) => return Err(ToLogin(error_page(lang, &e))),
        };
        // The user's choice, else the workspace's language (Arabic for an Arabic store).
        let lang = user
            .language
            .as_deref()
            .and_then(Lang::parse)
            .or_else(|| Lang::parse(&workspace.language))
            .unwrap_or(lang);
        if parts.method == Method::POST && !origin_ok(&parts.headers) {
            return Err(ToLogin(error_page(
                lang,
                &AppError::new(ErrorCode::Forbidden, "cross-site request refused"),
            )));
        }
        Ok(Console {
            csrf: csrf_for(&hash),
            p: principal,
            user,
            workspace,
            lang,
            path,
        })
    }
}

/// Percent-encode for a query value, leaving `/` readable (`next=/customers`).
pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Only same-site relative paths are followed after sign-in (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".into(),
    }
}

fn visitor_base(lang: Lang) -> Vec<(&'static str, minijinja::Value)> {
    vec![
        ("lang", lang.code().into()),
        ("dir", lang.dir().into()),
        (
            "other_lang",
            match lang {
                Lang::Ar => "en",
                Lang::En => "ar",
            }
            .into(),
        ),
        ("tz", "UTC".into()),
    ]
}

fn ctx(lang: Lang, extra: Vec<(&'static str, minijinja::Value)>) -> minijinja::Value {
    let mut m: std::collections::BTreeMap<String, minijinja::Value> = visitor_base(lang)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    m.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
    minijinja::Value::from(m)
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
    reset: Option<String>,
    lang: Option<String>,
}

/// The sign-in page. `?lang=` switches the visitor's language (remembered in a cookie).
pub async fn login_page(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let chosen = q.lang.as_deref().and_then(Lang::parse);
    let lang = chosen.unwrap_or_else(|| visitor_lang(&headers));
    let sec = secure(&st, &headers);
    let csrf = cookie(&headers, LOGIN_CSRF_COOKIE)
        .filter(|c| c.len() >= 20)
        .unwrap_or_else(|| new_token(""));
    let mut cookies = vec![set_cookie(LOGIN_CSRF_COOKIE, &csrf, 3600, sec)];
    if let Some(l) = chosen {
        cookies.push(set_cookie(LANG_COOKIE, l.code(), 365 * 86400, sec));
    }
    let page = render(
        "login.html",
        ctx(
            lang,
            vec![
                ("csrf", csrf.into()),
                ("next", safe_next(q.next.as_deref()).into()),
                ("expired", q.expired.is_some().into()),
                ("reset_done", q.reset.is_some().into()),
                ("mail_enabled", st.mailer.is_some().into()),
            ],
        ),
    );
    with_cookies(page, cookies)
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    csrf: Option<String>,
    next: Option<String>,
}

pub async fn login_submit(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let lang = visitor_lang(&headers);
    let sec = secure(&st, &headers);
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE);
    let csrf_ok = match (&expected, &f.csrf) {
        (Some(a), Some(b)) => same(a, b),
        _ => false,
    };
    let again = |error: AppError| {
        let message = match lang {
            Lang::Ar => error.code.message_ar(),
            Lang::En => error.code.message_en(),
        };
        let status = axum::http::StatusCode::from_u16(error.code.http_status())
            .unwrap_or(axum::http::StatusCode::BAD_REQUEST);
        let mut r = render(
            "login.html",
            ctx(
                lang,
                vec![
                    ("csrf", expected.clone().unwrap_or_default().into()),
                    ("next", safe_next(f.next.as_deref()).into()),
                    ("email", f.email.clone().into()),
                    ("error", message.into()),
                    ("error_code", error.code.as_str().into()),
                    ("mail_enabled", st.mailer.is_some().into()),
                ],
            ),
        );
        *r.status_mut() = status;
        r
    };
    if !csrf_ok || !origin_ok(&headers) {
        return again(AppError::new(
            ErrorCode::Forbidden,
            "the sign-in form expired; reload the page",
        ));
    }
    let client = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("direct")
        .to_owned();
    match authenticate(&st, &f.email, &f.password, None, &client).await {
        Ok(session) => {
            let r = Redirect::to(&safe_next(f.next.as_deref())).into_response();
            with_cookies(
                r,
                vec![set_cookie(
                    SESSION_COOKIE,
                    &session.token,
                    SESSION_TTL_MS / 1000,
                    sec,
                )],
            )
        }
        Err(e) => again(e),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

pub async fn logout(
    State(st): State<AppState>,
    headers: HeaderMap,
    c: Console,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(e) = c.check_csrf(f.csrf.as_deref()) {
        return c.fail(e);
    }
    if let Some(h) = &c.p.session_hash {
        if let Err(e) = st.store.delete_session(h).await {
            return c.fail(e);
        }
    }
    with_cookies(
        Redirect::to("/login").into_response(),
        vec![set_cookie(SESSION_COOKIE, "", 0, secure(&st, &headers))],
    )
}

#[derive(Deserialize)]
pub struct LanguageForm {
    lang: String,
    csrf: Option<String>,
    next: Option<String>,
}

/// Switch the signed-in user's language (stored on the user, so it follows them).
pub async fn switch_language(
    State(st): State<AppState>,
    c: Console,
    Form(f): Form<LanguageForm>,
) -> Response {
    if let Err(e) = c.check_csrf(f.csrf.as_deref()) {
        return c.fail(e);
    }
    let Some(lang) = Lang::parse(&f.lang) else {
        return c.fail(AppError::validation("lang", "use ar or en"));
    };
    if let Err(e) = st
        .store
        .set_user_language(c.user.id, Some(lang.code()))
        .await
    {
        return c.fail(e);
    }
    Redirect::to(&safe_next(f.next.as_deref())).into_response()
}

pub async fn forgot_page(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let lang = visitor_lang(&headers);
    let csrf = cookie(&headers, LOGIN_CSRF_COOKIE)
        .filter(|c| c.len() >= 20)
        .unwrap_or_else(|| new_token(""));
    with_cookies(
        render(
            "forgot.html",
            ctx(
                lang,
                vec![
                    ("csrf", csrf.clone().into()),
                    ("mail_enabled", st.mailer.is_some().into()),
                ],
            ),
        ),
        vec![set_cookie(
            LOGIN_CSRF_COOKIE,
            &csrf,
            3600,
            secure(&st, &headers),
        )],
    )
}

#[derive(Deserialize)]
pub struct ForgotForm {
    email: String,
    csrf: Option<String>,
}

/// Send a reset link if the address belongs to a user. The answer is the same either way, so
/// the form cannot be used to find out who has an account.
pub async fn forgot_submit(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<ForgotForm>,
) -> Response {
    let lang = visitor_lang(&headers);
    let csrf_ok =
        matches!((cookie(&headers, LOGIN_CSRF_COOKIE), &f.csrf), (Some(a), Some(b)) if same(&a, b));
    if !csrf_ok || !origin_ok(&headers) {
        return error_page(
            lang,
            &AppError::new(ErrorCode::Forbidden, "the form expired; reload the page"),
        );
    }
    let Some(mailer) = st.mailer.clone() else {
        return error_page(
            lang,
            &AppError::new(
                ErrorCode::Unavailable,
                "e-mail is not configured on this server (WAFA_SMTP_URL); ask the workspace owner to reset your password",
            ),
        );
    };
    let email = f.email.trim().to_lowercase();
    let limiter_key = format!("reset|{email}");
    if let Err(e) = st.login_limiter.check(&limiter_key) {
        return error_page(lang, &e);
    }
    st.login_limiter.fail(&limiter_key);
    match st.store.user_id_by_email(&email).await {
        Ok(Some(user_id)) => {
            let token = new_token(RESET_PREFIX);
            match st
                .store
                .create_password_reset(user_id, &token_hash(&token), RESET_TTL_MS)
                .await
            {
                Ok(true) => {
                    let user_lang = st
                        .store
                        .user_account(user_id)
                        .await
                        .ok()
                        .and_then(|u| u.language.as_deref().and_then(Lang::parse))
                        .unwrap_or(lang);
                    let link = format!(
                        "{}/reset/{token}",
                        st.config.public_url.trim_end_matches('/')
                    );
                    // Sent in the background: the answer must not reveal (by its timing)
                    // whether the address has an account.
                    tokio::spawn(async move {
                        if let Err(e) = mailer.send_reset(&email, &link, user_lang).await {
                            tracing::error!(error = %e, "password reset e-mail failed");
                        }
                    });
                }
                Ok(false) => tracing::warn!(user_id, "too many reset links requested"),
                Err(e) => return error_page(lang, &e),
            }
        }
        Ok(None) => {}
        Err(e) => return error_page(lang, &e),
    }
    render(
        "forgot.html",
        ctx(
            lang,
            vec![("sent", true.into()), ("mail_enabled", true.into())],
        ),
    )
}

pub async fn reset_page(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    let lang = visitor_lang(&headers);
    let valid = matches!(
        st.store.password_reset_user(&token_hash(&token)).await,
        Ok(Some(_))
    );
    let csrf = cookie(&headers, LOGIN_CSRF_COOKIE)
        .filter(|c| c.len() >= 20)
        .unwrap_or_else(|| new_token(""));
    with_cookies(
        render(
            "reset.html",
            ctx(
                lang,
                vec![
                    ("csrf", csrf.clone().into()),
                    ("valid", valid.into()),
                    ("token", token.into()),
                    ("min", (MIN_PASSWORD as i64).into()),
                ],
            ),
        ),
        vec![set_cookie(
            LOGIN_CSRF_COOKIE,
            &csrf,
            3600,
            secure(&st, &headers),
        )],
    )
}

pub async fn reset_submit(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let lang = visitor_lang(&headers);
    let csrf_ok = matches!((cookie(&headers, LOGIN_CSRF_COOKIE), f.get("csrf")), (Some(a), Some(b)) if same(&a, b));
    if !csrf_ok || !origin_ok(&headers) {
        return error_page(
            lang,
            &AppError::new(ErrorCode::Forbidden, "the form expired; reload the page"),
        );
    }
    let password = f.get("password").map(String::as_str).unwrap_or("");
    let confirm = f.get("confirm").map(String::as_str).unwrap_or("");
    let problem = if password.chars().count() < MIN_PASSWORD {
        Some(i18n::t_with(
            lang,
            "reset.too_short",
            &[("min", i18n::int(MIN_PASSWORD as i64, lang))],
        ))
    } else if password != confirm {
        Some(i18n::t(lang, "reset.mismatch"))
    } else {
        None
    };
    if let Some(problem) = problem {
        let mut r = render(
            "reset.html",
            ctx(
                lang,
                vec![
                    ("csrf", f.get("csrf").cloned().unwrap_or_default().into()),
                    ("valid", true.into()),
                    ("token", token.into()),
                    ("error", problem.into()),
                    ("min", (MIN_PASSWORD as i64).into()),
                ],
            ),
        );
        *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
        return r;
    }
    let hash = match hash_password(password) {
        Ok(h) => h,
        Err(e) => return error_page(lang, &AppError::internal(e)),
    };
    match st.store.reset_password(&token_hash(&token), &hash).await {
        Ok(_) => Redirect::to("/login?reset=1").into_response(),
        Err(e) => error_page(lang, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_never_an_open_redirect() {
        assert_eq!(safe_next(Some("/customers?q=1")), "/customers?q=1");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn csrf_depends_on_the_session() {
        assert_ne!(csrf_for("a"), csrf_for("b"));
        assert_eq!(csrf_for("a"), csrf_for("a"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }

    #[test]
    fn origin_must_match_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(origin_ok(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(origin_ok(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!origin_ok(&h));
    }
}
