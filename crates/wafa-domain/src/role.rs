//! Who may do what: staff roles, API-key scopes, and the permissions both grant.
//!
//! Why one permission set for both: a request is authorised by asking "does this credential
//! hold permission P?", whether the credential is a staff session (role) or an API key
//! (scopes). Scopes use the permission names, so a key can never do more than its scopes list.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Marketer,
    Agent,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Admin,
        Role::Marketer,
        Role::Agent,
        Role::Viewer,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Marketer => "marketer",
            Role::Agent => "agent",
            Role::Viewer => "viewer",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Owner | Role::Admin => Permission::ALL,
            Role::Marketer => &[
                CustomersRead,
                CustomersWrite,
                CustomersMerge,
                OrdersRead,
                ProductsRead,
                ProductsWrite,
                CartsRead,
                NotesWrite,
                Import,
                SourcesRead,
            ],
            Role::Agent => &[
                CustomersRead,
                CustomersWrite,
                OrdersRead,
                OrdersWrite,
                ProductsRead,
                CartsRead,
                NotesWrite,
            ],
            Role::Viewer => &[CustomersRead, OrdersRead, ProductsRead, CartsRead],
        }
    }
    pub fn allows(self, p: Permission) -> bool {
        self.permissions().contains(&p)
    }
    /// Only an owner may create or change another owner.
    pub fn may_grant(self, other: Role) -> bool {
        match self {
            Role::Owner => true,
            Role::Admin => other != Role::Owner,
            _ => false,
        }
    }
}

macro_rules! permissions {
    ($( $v:ident => $s:literal ),+ $(,)?) => {
        /// One thing a credential may be allowed to do. The string form is the API-key scope.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Permission { $( #[serde(rename = $s)] $v ),+ }
        impl Permission {
            pub const ALL: &'static [Permission] = &[ $( Permission::$v ),+ ];
            pub fn as_str(self) -> &'static str { match self { $( Permission::$v => $s ),+ } }
            pub fn parse(s: &str) -> Option<Permission> { match s { $( $s => Some(Permission::$v), )+ _ => None } }
        }
    };
}

permissions! {
    CustomersRead => "customers:read",
    CustomersWrite => "customers:write",
    CustomersMerge => "customers:merge",
    OrdersRead => "orders:read",
    OrdersWrite => "orders:write",
    ProductsRead => "products:read",
    ProductsWrite => "products:write",
    CartsRead => "carts:read",
    CartsWrite => "carts:write",
    NotesWrite => "notes:write",
    Import => "import",
    SourcesRead => "sources:read",
    SourcesWrite => "sources:write",
    AuditRead => "audit:read",
    UsersManage => "users:manage",
    KeysManage => "keys:manage",
    WorkspaceManage => "workspace:manage",
}

/// An API key's scopes: a set of permissions.
pub type Scope = Permission;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_power() {
        for p in Permission::ALL {
            assert!(Role::Owner.allows(*p));
            if Role::Viewer.allows(*p) {
                assert!(Role::Agent.allows(*p) && Role::Marketer.allows(*p), "{p:?}");
            }
            assert_eq!(Permission::parse(p.as_str()), Some(*p));
        }
        assert!(!Role::Agent.allows(Permission::KeysManage));
        assert!(!Role::Viewer.allows(Permission::CustomersWrite));
        assert!(!Role::Admin.may_grant(Role::Owner));
    }
}
