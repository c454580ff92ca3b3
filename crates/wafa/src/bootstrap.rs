//! First run: the first workspace and its owner, and the demo store.
//!
//! Why the owner's password is printed once: a self-hosted server has no email set up on
//! first run, so the operator must be able to sign in from what the terminal shows. It is
//! taken from `WAFA_ADMIN_EMAIL`/`WAFA_ADMIN_PASSWORD` when set, else generated.

use crate::error::AppError;
use crate::store::{NewWorkspace, Store};

pub struct Owner {
    pub email: String,
    pub password: String,
    pub generated: bool,
}

pub fn owner_from_env() -> Option<Owner> {
    let email = std::env::var("WAFA_ADMIN_EMAIL").ok().filter(|s| !s.trim().is_empty())?;
    let (password, generated) = match std::env::var("WAFA_ADMIN_PASSWORD").ok().filter(|s| !s.is_empty()) {
        Some(p) => (p, false),
        None => (crate::auth::new_password(), true),
    };
    Some(Owner { email, password, generated })
}

pub async fn first_workspace(store: &Store, owner: &Owner, name: &str) -> Result<i64, AppError> {
    let email = wafa_domain::Email::parse(&owner.email)?;
    let hash = crate::auth::hash_password(&owner.password).map_err(AppError::internal)?;
    let ws = NewWorkspace { name, default_currency: "SAR", default_region: "SA", timezone: "Asia/Riyadh", language: "ar" };
    let (workspace, _) = store.create_workspace_with_owner(ws, email.as_str(), Some("Owner"), &hash).await?;
    println!("Created workspace {} ({name}). Sign in as {}", workspace.id, email.as_str());
    if owner.generated {
        println!("  password (shown once): {}", owner.password);
    }
    Ok(workspace.id)
}

/// Create the demo workspace and owner and load the demo store into it.
pub async fn demo_workspace(store: &Store) -> Result<i64, AppError> {
    let owner = owner_from_env().unwrap_or_else(|| Owner { email: "owner@demo.wafa.local".into(), password: crate::auth::new_password(), generated: true });
    let ws = first_workspace(store, &owner, "متجر وفاء التجريبي — Wafa Demo Store").await?;
    Ok(ws)
}
