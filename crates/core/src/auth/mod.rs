//! Who is calling and what they may do: sessions, ACL rules and authorization.

mod acl;
mod authorize;
mod caller;
pub mod ec2_secret;
mod password;
pub mod restricted;
mod server_cipher;
mod session;
mod session_cache;

pub use acl::Target;
pub use authorize::{authorize, authorize_create, authorize_create_in, authorize_kind, may};
pub use caller::Caller;
pub use password::{hash_password, random_hex};
pub use restricted::{RestrictedAttrs, RestrictedKind};
pub use server_cipher::login_token as server_login_token;
pub use session::{SESSION_EXPIRATION_TIME, Verified, authenticate, caller_of};
pub use session_cache::SessionCache;
