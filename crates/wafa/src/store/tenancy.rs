//! Workspaces, staff users and roles, sessions, API keys, sources and the audit log.
//!
//! Every other table is keyed by `workspace_id`, and the only way a request gets a
//! workspace id is through a [`Principal`] resolved here from its credential.

use super::{audit, now_ms, Store};
use crate::error::{AppError, AppResult};
use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;
use wafa_domain::{ErrorCode, Permission, Role};

/// Who is making a request, in which workspace, allowed to do what.
#[derive(Debug, Clone)]
pub struct Principal {
    pub workspace_id: i64,
    /// `user:ID` or `key:ID`, as written to the audit log.
    pub actor: String,
    pub user_id: Option<i64>,
    pub role: Option<Role>,
    /// For API keys: the scopes. For users: the role's permissions.
    pub permissions: Vec<Permission>,
    pub session_hash: Option<String>,
    /// The workspace's default phone region, to read national-format numbers.
    pub region: wafa_domain::Region,
}

impl Principal {
    pub fn allows(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }
    pub fn require(&self, p: Permission) -> AppResult<()> {
        if self.allows(p) {
            Ok(())
        } else {
            Err(
                AppError::forbidden(format!("needs permission {}", p.as_str()))
                    .with_extra(serde_json::json!({"permission": p.as_str()})),
            )
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkspaceRecord {
    pub id: i64,
    pub name: String,
    pub default_currency: String,
    pub default_region: String,
    pub timezone: String,
    pub language: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionRecord {
    pub token: String,
    pub expires_at: String,
    pub workspace_id: i64,
    pub user_id: i64,
    pub role: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyRecord {
    pub id: i64,
    pub name: String,
    /// The first characters of the key, to recognise it; the key itself is shown once.
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberRecord {
    pub user_id: i64,
    pub email: String,
    pub name: Option<String>,
    pub role: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourceRecord {
    pub id: i64,
    pub platform: String,
    pub name: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditRecord {
    pub id: i64,
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<i64>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub at: String,
}

pub struct NewWorkspace<'a> {
    pub name: &'a str,
    pub default_currency: &'a str,
    pub default_region: &'a str,
    pub timezone: &'a str,
    pub language: &'a str,
}

fn fmt(ms: i64) -> String {
    wafa_domain::time::format_ms(ms)
}

fn workspace_from_row(r: &sqlx::any::AnyRow) -> WorkspaceRecord {
    WorkspaceRecord {
        id: r.get("id"),
        name: r.get("name"),
        default_currency: r.get("default_currency"),
        default_region: r.get("default_region"),
        timezone: r.get("timezone"),
        language: r.get("language"),
        created_at: fmt(r.get("created_at")),
    }
}

impl Store {
    /// Create a workspace and its owner in one transaction. An existing user (same email)
    /// becomes the owner only if the password matches, checked by the caller.
    pub async fn create_workspace_with_owner(
        &self,
        ws: NewWorkspace<'_>,
        email: &str,
        user_name: Option<&str>,
        password_hash: &str,
    ) -> AppResult<(WorkspaceRecord, i64)> {
        let now = now_ms();
        let mut tx = self.write.begin().await?;
        let row = sqlx::query("INSERT INTO workspaces (name, default_currency, default_region, timezone, language, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, name, default_currency, default_region, timezone, language, created_at")
            .bind(ws.name).bind(ws.default_currency).bind(ws.default_region).bind(ws.timezone).bind(ws.language).bind(now)
            .fetch_one(&mut *tx).await?;
        let workspace = workspace_from_row(&row);
        let existing = sqlx::query("SELECT id FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(&mut *tx)
            .await?;
        let user_id: i64 = match existing {
            Some(r) => r.get("id"),
            None => sqlx::query("INSERT INTO users (email, name, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
                .bind(email).bind(user_name).bind(password_hash).bind(now)
                .fetch_one(&mut *tx).await?.get("id"),
        };
        sqlx::query("INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
            .bind(workspace.id).bind(user_id).bind(Role::Owner.as_str()).bind(now)
            .execute(&mut *tx).await?;
        audit(
            &mut tx,
            workspace.id,
            &format!("user:{user_id}"),
            "workspace.create",
            "workspace",
            Some(workspace.id),
            serde_json::json!({"name": ws.name}),
        )
        .await?;
        tx.commit().await?;
        Ok((workspace, user_id))
    }

    pub async fn list_workspaces(&self) -> AppResult<Vec<WorkspaceRecord>> {
        let rows = sqlx::query("SELECT id, name, default_currency, default_region, timezone, language, created_at FROM workspaces ORDER BY id").fetch_all(&self.read).await?;
        Ok(rows.iter().map(workspace_from_row).collect())
    }

    pub async fn workspace_count(&self) -> AppResult<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM workspaces")
            .fetch_one(&self.read)
            .await?
            .get("n"))
    }

    pub async fn get_workspace(&self, id: i64) -> AppResult<WorkspaceRecord> {
        let r = sqlx::query("SELECT id, name, default_currency, default_region, timezone, language, created_at FROM workspaces WHERE id = $1")
            .bind(id).fetch_optional(&self.read).await?.ok_or_else(|| AppError::not_found("workspace"))?;
        Ok(workspace_from_row(&r))
    }

    pub async fn update_workspace(
        &self,
        p: &Principal,
        ws: NewWorkspace<'_>,
    ) -> AppResult<WorkspaceRecord> {
        let mut tx = self.write.begin().await?;
        let r = sqlx::query("UPDATE workspaces SET name = $2, default_currency = $3, default_region = $4, timezone = $5, language = $6 WHERE id = $1 RETURNING id, name, default_currency, default_region, timezone, language, created_at")
            .bind(p.workspace_id).bind(ws.name).bind(ws.default_currency).bind(ws.default_region).bind(ws.timezone).bind(ws.language)
            .fetch_one(&mut *tx).await?;
        audit(&mut tx, p.workspace_id, &p.actor, "workspace.update", "workspace", Some(p.workspace_id), serde_json::json!({"name": ws.name, "default_currency": ws.default_currency, "default_region": ws.default_region})).await?;
        tx.commit().await?;
        Ok(workspace_from_row(&r))
    }

    /// The user's id, password hash, and workspaces with roles.
    pub async fn find_user_for_login(
        &self,
        email: &str,
    ) -> AppResult<Option<(i64, String, Vec<(i64, Role)>)>> {
        let Some(u) = sqlx::query("SELECT id, password_hash FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(&self.read)
            .await?
        else {
            return Ok(None);
        };
        let id: i64 = u.get("id");
        let ms = sqlx::query(
            "SELECT workspace_id, role FROM memberships WHERE user_id = $1 ORDER BY workspace_id",
        )
        .bind(id)
        .fetch_all(&self.read)
        .await?;
        let memberships = ms
            .iter()
            .filter_map(|r| {
                Some((
                    r.get::<i64, _>("workspace_id"),
                    Role::parse(&r.get::<String, _>("role"))?,
                ))
            })
            .collect();
        Ok(Some((id, u.get("password_hash"), memberships)))
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        workspace_id: i64,
        ttl_ms: i64,
    ) -> AppResult<i64> {
        let now = now_ms();
        sqlx::query("INSERT INTO sessions (token_hash, user_id, workspace_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash).bind(user_id).bind(workspace_id).bind(now).bind(now + ttl_ms)
            .execute(&self.write).await?;
        Ok(now + ttl_ms)
    }

    pub async fn delete_session(&self, token_hash: &str) -> AppResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Resolve a session token hash to a principal; expired sessions and removed memberships
    /// resolve to nothing.
    pub async fn session_principal(&self, token_hash: &str) -> AppResult<Option<Principal>> {
        let r = sqlx::query("SELECT s.user_id, s.workspace_id, s.expires_at, m.role, w.default_region FROM sessions s JOIN memberships m ON m.user_id = s.user_id AND m.workspace_id = s.workspace_id JOIN workspaces w ON w.id = s.workspace_id WHERE s.token_hash = $1")
            .bind(token_hash).fetch_optional(&self.read).await?;
        let Some(r) = r else { return Ok(None) };
        if r.get::<i64, _>("expires_at") < now_ms() {
            return Ok(None);
        }
        let Some(role) = Role::parse(&r.get::<String, _>("role")) else {
            return Ok(None);
        };
        let user_id: i64 = r.get("user_id");
        Ok(Some(Principal {
            workspace_id: r.get("workspace_id"),
            actor: format!("user:{user_id}"),
            user_id: Some(user_id),
            role: Some(role),
            permissions: role.permissions().to_vec(),
            session_hash: Some(token_hash.to_owned()),
            region: wafa_domain::Region::parse(&r.get::<String, _>("default_region"))
                .unwrap_or_default(),
        }))
    }

    pub async fn key_principal(&self, key_hash: &str) -> AppResult<Option<Principal>> {
        let r = sqlx::query("SELECT k.id, k.workspace_id, k.scopes, w.default_region FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id WHERE k.key_hash = $1 AND k.revoked_at IS NULL")
            .bind(key_hash).fetch_optional(&self.read).await?;
        let Some(r) = r else { return Ok(None) };
        let id: i64 = r.get("id");
        let scopes: String = r.get("scopes");
        // Best effort: a failed "last used" write must not fail the request.
        let _ = sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)")
            .bind(id).bind(now_ms()).bind(now_ms() - 60_000).execute(&self.write).await;
        Ok(Some(Principal {
            workspace_id: r.get("workspace_id"),
            actor: format!("key:{id}"),
            user_id: None,
            role: None,
            permissions: scopes
                .split_whitespace()
                .filter_map(Permission::parse)
                .collect(),
            session_hash: None,
            region: wafa_domain::Region::parse(&r.get::<String, _>("default_region"))
                .unwrap_or_default(),
        }))
    }

    pub async fn create_api_key(
        &self,
        p: &Principal,
        name: &str,
        key_hash: &str,
        prefix: &str,
        scopes: &[Permission],
    ) -> AppResult<ApiKeyRecord> {
        let now = now_ms();
        let scope_str = scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let mut tx = self.write.begin().await?;
        let id: i64 = sqlx::query("INSERT INTO api_keys (workspace_id, name, prefix, key_hash, scopes, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
            .bind(p.workspace_id).bind(name).bind(prefix).bind(key_hash).bind(&scope_str).bind(p.user_id).bind(now)
            .fetch_one(&mut *tx).await?.get("id");
        audit(
            &mut tx,
            p.workspace_id,
            &p.actor,
            "api_key.create",
            "api_key",
            Some(id),
            serde_json::json!({"name": name, "scopes": scope_str}),
        )
        .await?;
        tx.commit().await?;
        Ok(ApiKeyRecord {
            id,
            name: name.to_owned(),
            prefix: prefix.to_owned(),
            scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            created_at: fmt(now),
            revoked_at: None,
            last_used_at: None,
        })
    }

    pub async fn list_api_keys(
        &self,
        workspace_id: i64,
        before_id: Option<i64>,
        limit: i64,
    ) -> AppResult<Vec<ApiKeyRecord>> {
        let rows = sqlx::query("SELECT id, name, prefix, scopes, created_at, revoked_at, last_used_at FROM api_keys WHERE workspace_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3")
            .bind(workspace_id).bind(before_id.unwrap_or(i64::MAX)).bind(limit).fetch_all(&self.read).await?;
        Ok(rows
            .iter()
            .map(|r| ApiKeyRecord {
                id: r.get("id"),
                name: r.get("name"),
                prefix: r.get("prefix"),
                scopes: r
                    .get::<String, _>("scopes")
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
                created_at: fmt(r.get("created_at")),
                revoked_at: r.get::<Option<i64>, _>("revoked_at").map(fmt),
                last_used_at: r.get::<Option<i64>, _>("last_used_at").map(fmt),
            })
            .collect())
    }

    pub async fn revoke_api_key(&self, p: &Principal, id: i64) -> AppResult<()> {
        let mut tx = self.write.begin().await?;
        let n = sqlx::query("UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND workspace_id = $2 AND revoked_at IS NULL")
            .bind(id).bind(p.workspace_id).bind(now_ms()).execute(&mut *tx).await?.rows_affected();
        if n == 0 {
            return Err(AppError::not_found("api key"));
        }
        audit(
            &mut tx,
            p.workspace_id,
            &p.actor,
            "api_key.revoke",
            "api_key",
            Some(id),
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Add a staff member: a new user with this password, or an existing user (same email)
    /// gaining a membership.
    pub async fn add_member(
        &self,
        p: &Principal,
        email: &str,
        name: Option<&str>,
        password_hash: &str,
        role: Role,
    ) -> AppResult<MemberRecord> {
        let now = now_ms();
        let mut tx = self.write.begin().await?;
        let existing = sqlx::query("SELECT id FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(&mut *tx)
            .await?;
        let user_id: i64 = match existing {
            Some(r) => r.get("id"),
            None => sqlx::query("INSERT INTO users (email, name, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
                .bind(email).bind(name).bind(password_hash).bind(now).fetch_one(&mut *tx).await?.get("id"),
        };
        let inserted = sqlx::query("INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (workspace_id, user_id) DO NOTHING")
            .bind(p.workspace_id).bind(user_id).bind(role.as_str()).bind(now).execute(&mut *tx).await?.rows_affected();
        if inserted == 0 {
            return Err(AppError::new(
                ErrorCode::EmailTaken,
                "this user is already a member of the workspace",
            ));
        }
        audit(
            &mut tx,
            p.workspace_id,
            &p.actor,
            "member.add",
            "user",
            Some(user_id),
            serde_json::json!({"email": email, "role": role.as_str()}),
        )
        .await?;
        tx.commit().await?;
        Ok(MemberRecord {
            user_id,
            email: email.to_owned(),
            name: name.map(str::to_owned),
            role: role.as_str().to_owned(),
            created_at: fmt(now),
        })
    }

    pub async fn list_members(
        &self,
        workspace_id: i64,
        before_id: Option<i64>,
        limit: i64,
    ) -> AppResult<Vec<MemberRecord>> {
        let rows = sqlx::query("SELECT u.id, u.email, u.name, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 AND u.id < $2 ORDER BY u.id DESC LIMIT $3")
            .bind(workspace_id).bind(before_id.unwrap_or(i64::MAX)).bind(limit).fetch_all(&self.read).await?;
        Ok(rows
            .iter()
            .map(|r| MemberRecord {
                user_id: r.get("id"),
                email: r.get("email"),
                name: r.get("name"),
                role: r.get("role"),
                created_at: fmt(r.get("created_at")),
            })
            .collect())
    }

    pub async fn member_role(&self, workspace_id: i64, user_id: i64) -> AppResult<Role> {
        let r =
            sqlx::query("SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2")
                .bind(workspace_id)
                .bind(user_id)
                .fetch_optional(&self.read)
                .await?
                .ok_or_else(|| AppError::not_found("user"))?;
        Role::parse(&r.get::<String, _>("role"))
            .ok_or_else(|| AppError::internal("bad role in database"))
    }

    /// Change or remove (`role = None`) a membership. The last owner cannot be demoted or removed.
    pub async fn set_member_role(
        &self,
        p: &Principal,
        user_id: i64,
        role: Option<Role>,
    ) -> AppResult<()> {
        let mut tx = self.write.begin().await?;
        let current =
            sqlx::query("SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2")
                .bind(p.workspace_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| AppError::not_found("user"))?;
        if current.get::<String, _>("role") == "owner" && role != Some(Role::Owner) {
            let owners: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM memberships WHERE workspace_id = $1 AND role = 'owner'",
            )
            .bind(p.workspace_id)
            .fetch_one(&mut *tx)
            .await?
            .get("n");
            if owners <= 1 {
                return Err(AppError::new(
                    ErrorCode::Conflict,
                    "a workspace needs at least one owner",
                ));
            }
        }
        match role {
            Some(r) => {
                sqlx::query(
                    "UPDATE memberships SET role = $3 WHERE workspace_id = $1 AND user_id = $2",
                )
                .bind(p.workspace_id)
                .bind(user_id)
                .bind(r.as_str())
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2")
                    .bind(p.workspace_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM sessions WHERE workspace_id = $1 AND user_id = $2")
                    .bind(p.workspace_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let action = if role.is_some() {
            "member.role"
        } else {
            "member.remove"
        };
        audit(
            &mut tx,
            p.workspace_id,
            &p.actor,
            action,
            "user",
            Some(user_id),
            serde_json::json!({"role": role.map(|r| r.as_str())}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_source(
        &self,
        workspace_id: i64,
        actor: &str,
        platform: &str,
        name: &str,
    ) -> AppResult<SourceRecord> {
        let now = now_ms();
        let mut tx = self.write.begin().await?;
        let id: i64 = sqlx::query("INSERT INTO sources (workspace_id, platform, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(workspace_id).bind(platform).bind(name).bind(now).fetch_one(&mut *tx).await?.get("id");
        audit(
            &mut tx,
            workspace_id,
            actor,
            "source.create",
            "source",
            Some(id),
            serde_json::json!({"platform": platform, "name": name}),
        )
        .await?;
        tx.commit().await?;
        Ok(SourceRecord {
            id,
            platform: platform.to_owned(),
            name: name.to_owned(),
            created_at: fmt(now),
        })
    }

    pub async fn list_sources(
        &self,
        workspace_id: i64,
        before_id: Option<i64>,
        limit: i64,
    ) -> AppResult<Vec<SourceRecord>> {
        let rows = sqlx::query("SELECT id, platform, name, created_at FROM sources WHERE workspace_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3")
            .bind(workspace_id).bind(before_id.unwrap_or(i64::MAX)).bind(limit).fetch_all(&self.read).await?;
        Ok(rows
            .iter()
            .map(|r| SourceRecord {
                id: r.get("id"),
                platform: r.get("platform"),
                name: r.get("name"),
                created_at: fmt(r.get("created_at")),
            })
            .collect())
    }

    /// The source with this platform and name, created if missing (used by imports so that
    /// re-importing a file keys its external ids to the same source).
    pub async fn find_or_create_source(
        &self,
        workspace_id: i64,
        actor: &str,
        platform: &str,
        name: &str,
    ) -> AppResult<i64> {
        if let Some(r) = sqlx::query("SELECT id FROM sources WHERE workspace_id = $1 AND platform = $2 AND name = $3 ORDER BY id LIMIT 1")
            .bind(workspace_id).bind(platform).bind(name).fetch_optional(&self.read).await?
        {
            return Ok(r.get("id"));
        }
        let mut tx = self.write.begin().await?;
        let id: i64 = sqlx::query("INSERT INTO sources (workspace_id, platform, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(workspace_id).bind(platform).bind(name).bind(now_ms()).fetch_one(&mut *tx).await?.get("id");
        audit(
            &mut tx,
            workspace_id,
            actor,
            "source.create",
            "source",
            Some(id),
            serde_json::json!({"platform": platform, "name": name}),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn source_exists(&self, workspace_id: i64, id: i64) -> AppResult<bool> {
        Ok(
            sqlx::query("SELECT id FROM sources WHERE workspace_id = $1 AND id = $2")
                .bind(workspace_id)
                .bind(id)
                .fetch_optional(&self.read)
                .await?
                .is_some(),
        )
    }

    pub async fn list_audit(
        &self,
        workspace_id: i64,
        before_id: Option<i64>,
        limit: i64,
    ) -> AppResult<Vec<AuditRecord>> {
        let rows = sqlx::query("SELECT id, actor, action, target_type, target_id, details, at FROM audit_log WHERE workspace_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3")
            .bind(workspace_id).bind(before_id.unwrap_or(i64::MAX)).bind(limit).fetch_all(&self.read).await?;
        Ok(rows
            .iter()
            .map(|r| AuditRecord {
                id: r.get("id"),
                actor: r.get("actor"),
                action: r.get("action"),
                target_type: r.get("target_type"),
                target_id: r.get("target_id"),
                details: super::json_col(r, "details"),
                at: fmt(r.get("at")),
            })
            .collect())
    }
}
