//! Wafa's domain: the types every other part speaks, and the rules that hold for them.
//!
//! Why a separate crate: the rules here (what a valid phone, email, amount or order status
//! change is; who may do what) must hold whatever the transport or storage, and they are
//! tested without a database or a server. Nothing in this crate does I/O.
//!
//! Values that arrive from outside are parsed into newtypes ([`Phone`], [`Email`],
//! [`Currency`], [`Money`]) at the edge; code past the edge can trust them.

pub mod customer;
pub mod email;
pub mod error;
pub mod money;
pub mod order;
pub mod phone;
pub mod role;
pub mod time;

pub use customer::{Channel, Consent, ConsentState, Language};
pub use email::Email;
pub use error::{DomainError, ErrorCode};
pub use money::{Currency, Money};
pub use order::{OrderStatus, PaymentMethod, ReturnReason};
pub use phone::{Phone, Region};
pub use role::{Permission, Role, Scope};
