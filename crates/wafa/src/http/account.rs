//! Sign-up, sign-in, the workspace, staff, API keys, sources and the audit log.

use super::extract::{ApiJson, ApiPath, ApiQuery, Auth, KEY_PREFIX, SESSION_PREFIX};
use super::pagination::{page, PageParams};
use super::AppState;
use crate::auth::{hash_password, new_token, token_hash, verify_password};
use crate::error::{AppError, AppResult};
use crate::store::{
    ApiKeyRecord, AuditRecord, MemberRecord, NewWorkspace, SessionRecord, SourceRecord,
    WorkspaceRecord,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use wafa_domain::{Currency, Email, ErrorCode, Permission, Region, Role};
use wafa_model::Page;

pub const SESSION_TTL_MS: i64 = 12 * 60 * 60 * 1000;
const MIN_PASSWORD: usize = 10;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupInput {
    pub workspace_name: String,
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub name: Option<String>,
    /// ISO 4217; default SAR.
    #[serde(default)]
    pub default_currency: Option<String>,
    /// ISO 3166-1 alpha-2 used to read local phone numbers; default SA.
    #[serde(default)]
    pub default_region: Option<String>,
    /// IANA time zone; default Asia/Riyadh.
    #[serde(default)]
    pub timezone: Option<String>,
    /// `ar` or `en`; default ar.
    #[serde(default)]
    pub language: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignupOutput {
    pub workspace: WorkspaceRecord,
    pub session: SessionRecord,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
    /// Needed only when the user belongs to several workspaces; default the first.
    #[serde(default)]
    pub workspace_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeOutput {
    pub actor: String,
    pub user_id: Option<i64>,
    pub role: Option<String>,
    pub permissions: Vec<String>,
    pub workspace: WorkspaceRecord,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceInput {
    pub name: String,
    pub default_currency: String,
    pub default_region: String,
    pub timezone: String,
    pub language: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberInput {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub name: Option<String>,
    /// owner, admin, marketer, agent, viewer.
    pub role: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    pub role: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyInput {
    pub name: String,
    /// Permission names, e.g. `customers:read`, `orders:write`.
    pub scopes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    /// The key itself. Shown only now; store it safely.
    pub key: String,
    pub api_key: ApiKeyRecord,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceInput {
    /// salla, zid, shopify, woocommerce, events, csv, api.
    pub platform: String,
    pub name: String,
    /// For store platforms: the webhook signing secret (Salla/Zid: the token).
    #[serde(default)]
    pub secret: Option<String>,
}

pub const PLATFORMS: [&str; 7] = [
    "salla",
    "zid",
    "shopify",
    "woocommerce",
    "events",
    "csv",
    "api",
];

fn validated_workspace<'a>(
    name: &'a str,
    currency: &'a str,
    region: &'a str,
    tz: &'a str,
    lang: &'a str,
) -> AppResult<NewWorkspace<'a>> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(AppError::validation("name", "1 to 200 characters"));
    }
    Currency::parse(currency)?;
    Region::parse(region)?;
    if tz.is_empty()
        || tz.len() > 64
        || !tz
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c))
    {
        return Err(AppError::validation(
            "timezone",
            "an IANA time zone such as Asia/Riyadh",
        ));
    }
    if !["ar", "en"].contains(&lang) {
        return Err(AppError::validation("language", "ar or en"));
    }
    Ok(NewWorkspace {
        name: name.trim(),
        default_currency: currency,
        default_region: region,
        timezone: tz,
        language: lang,
    })
}

fn check_password(p: &str) -> AppResult<()> {
    if p.chars().count() < MIN_PASSWORD || p.len() > 1024 {
        return Err(AppError::validation(
            "password",
            format!("use at least {MIN_PASSWORD} characters"),
        ));
    }
    Ok(())
}

/// Create a workspace and its owner; returns a session for the owner.
#[utoipa::path(post, path = "/v1/signup", tag = "account", request_body = SignupInput,
    responses((status = 201, body = SignupOutput), (status = 403, description = "sign-up disabled"), (status = 422, description = "invalid input")))]
pub async fn signup(
    State(st): State<AppState>,
    ApiJson(input): ApiJson<SignupInput>,
) -> AppResult<(StatusCode, Json<SignupOutput>)> {
    if !st.config.allow_signup {
        return Err(AppError::forbidden("sign-up is disabled on this server"));
    }
    let email = Email::parse(&input.email)?;
    check_password(&input.password)?;
    let currency = input
        .default_currency
        .as_deref()
        .unwrap_or("SAR")
        .to_ascii_uppercase();
    let region = input
        .default_region
        .as_deref()
        .unwrap_or("SA")
        .to_ascii_uppercase();
    let tz = input.timezone.as_deref().unwrap_or("Asia/Riyadh");
    let lang = input.language.as_deref().unwrap_or("ar");
    let ws = validated_workspace(&input.workspace_name, &currency, &region, tz, lang)?;
    // An existing user may own another workspace only by proving the password.
    if let Some((_, hash, _)) = st.store.find_user_for_login(email.as_str()).await? {
        if !verify_password(&input.password, &hash) {
            return Err(AppError::new(
                ErrorCode::EmailTaken,
                "a user with this email exists; sign in with its password",
            ));
        }
    }
    let hash = hash_password(&input.password).map_err(AppError::internal)?;
    let (workspace, user_id) = st
        .store
        .create_workspace_with_owner(ws, email.as_str(), input.name.as_deref(), &hash)
        .await?;
    let session = new_session(&st, user_id, workspace.id, Role::Owner).await?;
    Ok((
        StatusCode::CREATED,
        Json(SignupOutput { workspace, session }),
    ))
}

pub async fn new_session(
    st: &AppState,
    user_id: i64,
    workspace_id: i64,
    role: Role,
) -> AppResult<SessionRecord> {
    let token = new_token(SESSION_PREFIX);
    let expires = st
        .store
        .create_session(&token_hash(&token), user_id, workspace_id, SESSION_TTL_MS)
        .await?;
    Ok(SessionRecord {
        token,
        expires_at: wafa_domain::time::format_ms(expires),
        workspace_id,
        user_id,
        role: role.as_str().to_owned(),
    })
}

/// Check a sign-in, with rate limiting; shared by the API and the console.
pub async fn authenticate(
    st: &AppState,
    email: &str,
    password: &str,
    workspace_id: Option<i64>,
    client: &str,
) -> AppResult<SessionRecord> {
    let key = format!("{}|{client}", email.trim().to_lowercase());
    st.login_limiter.check(&key)?;
    let found = st
        .store
        .find_user_for_login(&email.trim().to_lowercase())
        .await?;
    let Some((user_id, hash, memberships)) = found else {
        crate::auth::dummy_verify(password);
        st.login_limiter.fail(&key);
        return Err(AppError::new(
            ErrorCode::InvalidCredentials,
            "wrong email or password",
        ));
    };
    if !verify_password(password, &hash) {
        st.login_limiter.fail(&key);
        return Err(AppError::new(
            ErrorCode::InvalidCredentials,
            "wrong email or password",
        ));
    }
    let (ws, role) = match workspace_id {
        Some(w) => *memberships
            .iter()
            .find(|(id, _)| *id == w)
            .ok_or_else(|| AppError::forbidden("you are not a member of that workspace"))?,
        None => *memberships
            .first()
            .ok_or_else(|| AppError::forbidden("you are not a member of any workspace"))?,
    };
    st.login_limiter.succeed(&key);
    new_session(st, user_id, ws, role).await
}

/// Sign in with email and password; returns a bearer session token.
#[utoipa::path(post, path = "/v1/auth/login", tag = "account", request_body = LoginInput,
    responses((status = 200, body = SessionRecord), (status = 401, description = "wrong email or password"), (status = 429, description = "too many attempts")))]
pub async fn login(
    State(st): State<AppState>,
    headers: axum::http::HeaderMap,
    ApiJson(input): ApiJson<LoginInput>,
) -> AppResult<Json<SessionRecord>> {
    let client = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("direct")
        .to_owned();
    Ok(Json(
        authenticate(
            &st,
            &input.email,
            &input.password,
            input.workspace_id,
            &client,
        )
        .await?,
    ))
}

/// End the current session.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "account", responses((status = 204)), security(("bearer" = [])))]
pub async fn logout(State(st): State<AppState>, Auth(p): Auth) -> AppResult<StatusCode> {
    if let Some(h) = &p.session_hash {
        st.store.delete_session(h).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Who am I, in which workspace, allowed to do what.
#[utoipa::path(get, path = "/v1/me", tag = "account", responses((status = 200, body = MeOutput)), security(("bearer" = [])))]
pub async fn me(State(st): State<AppState>, Auth(p): Auth) -> AppResult<Json<MeOutput>> {
    let workspace = st.store.get_workspace(p.workspace_id).await?;
    Ok(Json(MeOutput {
        actor: p.actor.clone(),
        user_id: p.user_id,
        role: p.role.map(|r| r.as_str().to_owned()),
        permissions: p
            .permissions
            .iter()
            .map(|x| x.as_str().to_owned())
            .collect(),
        workspace,
    }))
}

#[utoipa::path(get, path = "/v1/workspace", tag = "account", responses((status = 200, body = WorkspaceRecord)), security(("bearer" = [])))]
pub async fn get_workspace(
    State(st): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<WorkspaceRecord>> {
    Ok(Json(st.store.get_workspace(p.workspace_id).await?))
}

#[utoipa::path(put, path = "/v1/workspace", tag = "account", request_body = WorkspaceInput, responses((status = 200, body = WorkspaceRecord)), security(("bearer" = [])))]
pub async fn update_workspace(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiJson(input): ApiJson<WorkspaceInput>,
) -> AppResult<Json<WorkspaceRecord>> {
    p.require(Permission::WorkspaceManage)?;
    let currency = input.default_currency.to_ascii_uppercase();
    let region = input.default_region.to_ascii_uppercase();
    let ws = validated_workspace(
        &input.name,
        &currency,
        &region,
        &input.timezone,
        &input.language,
    )?;
    Ok(Json(st.store.update_workspace(&p, ws).await?))
}

#[utoipa::path(get, path = "/v1/users", tag = "account", params(PageParams), responses((status = 200, body = Page<MemberRecord>)), security(("bearer" = [])))]
pub async fn list_users(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiQuery(pg): ApiQuery<PageParams>,
) -> AppResult<Json<Page<MemberRecord>>> {
    p.require(Permission::UsersManage)?;
    let limit = pg.limit()?;
    let rows = st
        .store
        .list_members(p.workspace_id, pg.before_id()?, limit + 1)
        .await?;
    Ok(Json(page(rows, limit, |r| vec![r.user_id])))
}

fn parse_role(s: &str) -> AppResult<Role> {
    Role::parse(s).ok_or_else(|| {
        AppError::validation(
            "role",
            format!("{s:?}: use owner, admin, marketer, agent or viewer"),
        )
    })
}

/// Add a staff member with a role.
#[utoipa::path(post, path = "/v1/users", tag = "account", request_body = MemberInput, responses((status = 201, body = MemberRecord)), security(("bearer" = [])))]
pub async fn add_user(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiJson(input): ApiJson<MemberInput>,
) -> AppResult<(StatusCode, Json<MemberRecord>)> {
    p.require(Permission::UsersManage)?;
    let role = parse_role(&input.role)?;
    if !p.role.map(|r| r.may_grant(role)).unwrap_or(false) {
        return Err(AppError::forbidden(format!(
            "you may not grant the {} role",
            role.as_str()
        )));
    }
    let email = Email::parse(&input.email)?;
    check_password(&input.password)?;
    let hash = hash_password(&input.password).map_err(AppError::internal)?;
    Ok((
        StatusCode::CREATED,
        Json(
            st.store
                .add_member(&p, email.as_str(), input.name.as_deref(), &hash, role)
                .await?,
        ),
    ))
}

/// Change a staff member's role.
#[utoipa::path(put, path = "/v1/users/{id}/role", tag = "account", params(("id" = i64, Path)), request_body = RoleInput, responses((status = 204)), security(("bearer" = [])))]
pub async fn set_user_role(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<RoleInput>,
) -> AppResult<StatusCode> {
    p.require(Permission::UsersManage)?;
    let role = parse_role(&input.role)?;
    let current = st.store.member_role(p.workspace_id, id).await?;
    let me = p
        .role
        .ok_or_else(|| AppError::forbidden("API keys cannot change roles"))?;
    if !me.may_grant(role) || !me.may_grant(current) {
        return Err(AppError::forbidden("you may not change this role"));
    }
    st.store.set_member_role(&p, id, Some(role)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a staff member from the workspace (their sessions end).
#[utoipa::path(delete, path = "/v1/users/{id}", tag = "account", params(("id" = i64, Path)), responses((status = 204)), security(("bearer" = [])))]
pub async fn remove_user(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<StatusCode> {
    p.require(Permission::UsersManage)?;
    let current = st.store.member_role(p.workspace_id, id).await?;
    if !p.role.map(|r| r.may_grant(current)).unwrap_or(false) {
        return Err(AppError::forbidden("you may not remove this user"));
    }
    st.store.set_member_role(&p, id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/api-keys", tag = "account", params(PageParams), responses((status = 200, body = Page<ApiKeyRecord>)), security(("bearer" = [])))]
pub async fn list_keys(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiQuery(pg): ApiQuery<PageParams>,
) -> AppResult<Json<Page<ApiKeyRecord>>> {
    p.require(Permission::KeysManage)?;
    let limit = pg.limit()?;
    let rows = st
        .store
        .list_api_keys(p.workspace_id, pg.before_id()?, limit + 1)
        .await?;
    Ok(Json(page(rows, limit, |r| vec![r.id])))
}

/// Create an API key with scopes. A key can never hold a scope its creator lacks.
#[utoipa::path(post, path = "/v1/api-keys", tag = "account", request_body = ApiKeyInput, responses((status = 201, body = ApiKeyCreated)), security(("bearer" = [])))]
pub async fn create_key(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiJson(input): ApiJson<ApiKeyInput>,
) -> AppResult<(StatusCode, Json<ApiKeyCreated>)> {
    p.require(Permission::KeysManage)?;
    let name = crate::validate::text("name", Some(&input.name), 100)?
        .ok_or_else(|| AppError::validation("name", "required"))?;
    if input.scopes.is_empty() {
        return Err(AppError::validation("scopes", "give at least one scope"));
    }
    let mut scopes = Vec::new();
    for s in &input.scopes {
        let perm = Permission::parse(s)
            .ok_or_else(|| AppError::validation("scopes", format!("unknown scope {s:?}")))?;
        if !p.allows(perm) {
            return Err(AppError::forbidden(format!("you do not hold {s}")));
        }
        if !scopes.contains(&perm) {
            scopes.push(perm);
        }
    }
    let key = new_token(KEY_PREFIX);
    let prefix: String = key.chars().take(KEY_PREFIX.len() + 6).collect();
    let record = st
        .store
        .create_api_key(&p, &name, &token_hash(&key), &prefix, &scopes)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ApiKeyCreated {
            key,
            api_key: record,
        }),
    ))
}

#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "account", params(("id" = i64, Path)), responses((status = 204)), security(("bearer" = [])))]
pub async fn revoke_key(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<StatusCode> {
    p.require(Permission::KeysManage)?;
    st.store.revoke_api_key(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/sources", tag = "account", params(PageParams), responses((status = 200, body = Page<SourceRecord>)), security(("bearer" = [])))]
pub async fn list_sources(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiQuery(pg): ApiQuery<PageParams>,
) -> AppResult<Json<Page<SourceRecord>>> {
    p.require(Permission::SourcesRead)?;
    let limit = pg.limit()?;
    let rows = st
        .store
        .list_sources(p.workspace_id, pg.before_id()?, limit + 1)
        .await?;
    Ok(Json(page(rows, limit, |r| vec![r.id])))
}

/// Connect a store or channel the workspace sells through (each customer stays one profile
/// across them; external ids are per source). Store platforms get a webhook URL to paste
/// into the platform; an `events` source gets a write key (shown once).
#[utoipa::path(post, path = "/v1/sources", tag = "account", request_body = SourceInput, responses((status = 201, body = crate::sources::SourceCreated)), security(("bearer" = [])))]
pub async fn create_source(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiJson(input): ApiJson<SourceInput>,
) -> AppResult<(StatusCode, Json<crate::sources::SourceCreated>)> {
    p.require(Permission::SourcesWrite)?;
    let created = crate::sources::add_source(
        &st.store,
        p.workspace_id,
        &p.actor,
        &input.platform,
        &input.name,
        input.secret.as_deref(),
        &st.config.public_url,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The workspace's audit log, newest first.
#[utoipa::path(get, path = "/v1/audit", tag = "account", params(PageParams), responses((status = 200, body = Page<AuditRecord>)), security(("bearer" = [])))]
pub async fn audit_log(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiQuery(pg): ApiQuery<PageParams>,
) -> AppResult<Json<Page<AuditRecord>>> {
    p.require(Permission::AuditRead)?;
    let limit = pg.limit()?;
    let rows = st
        .store
        .list_audit(p.workspace_id, pg.before_id()?, limit + 1)
        .await?;
    Ok(Json(page(rows, limit, |r| vec![r.id])))
}
