//! Who is calling and what they may do: sessions, ACL rules and authorization.

mod acl;
mod authorize;
mod caller;
mod password;
mod session;

pub use acl::Target;
pub use authorize::{authorize, authorize_create, authorize_kind, may};
pub use caller::Caller;
pub use password::{hash_password, random_hex};
pub use session::authenticate;
