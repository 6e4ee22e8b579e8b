//! Nubo's Rust client library (our OCA): blocking calls to an OpenNebula-compatible
//! XML-RPC endpoint.
//!
//! ```no_run
//! # fn main() -> Result<(), nubo_client::ClientError> {
//! use nubo_client::{Client, Element, Filter};
//!
//! let client = Client::from_env()?; // ONE_XMLRPC, ONE_AUTH, ONE_XMLRPC_TIMEOUT
//! let uid = client.user().allocate("alice", "secret", "", &[])?;
//! let user = Element::parse(&client.user().info(uid)?)?;
//! println!("{}", user.text_of("GNAME").unwrap_or(""));
//! for image in client.image().pool_tree(Filter::Mine)?.children("IMAGE") {
//!     println!("{}", image.text_of("NAME").unwrap_or(""));
//! }
//! # Ok(()) }
//! ```
//!
//! - [`Client::call`] is the raw call: the session goes first, `[false, msg, code, …]`
//!   becomes [`ClientError::Api`], a `<fault>` becomes [`ClientError::Fault`];
//! - [`Resource`] holds the verbs every kind shares, gated by capability traits; each kind's
//!   own verbs live beside its marker type in [`nouns`];
//! - [`Element`] reads replies into a generic tree, so callers need no struct per type.

mod client;
pub mod env;
mod error;
pub mod nouns;
mod reply;
pub mod resource;
pub mod xml;

pub use client::Client;
pub use error::{Category, ClientError};
pub use nubo_xmlrpc::Value;
pub use resource::{Filter, LockLevel, Resource, chmod_args};
pub use xml::{Element, XmlError};
