//! A pure XML-RPC codec (no I/O), shared by Nubo's XML-RPC front end and its Rust client.
//!
//! It reads and writes `<methodCall>` and `<methodResponse>` documents the way OpenNebula's
//! xmlrpc-c server does:
//!
//! - [`parse_call`] / [`write_call`] handle requests;
//! - [`parse_response`] / [`write_response`] handle replies, including `<fault>`s;
//! - [`success`] and [`failure`] build OpenNebula's reply arrays
//!   (`[true, value, 0]` and `[false, msg, code, resp_id, i8 -1]`);
//! - [`fault`] holds the fault codes xmlrpc-c uses for protocol-level errors.
//!
//! Parsing is linear in the input, never panics, rejects DTDs, and refuses values nested deeper
//! than [`MAX_DEPTH`] arrays/structs and characters XML 1.0 cannot carry (raw or as
//! references, see [`xml_chars`]). Writing emits exact types and no whitespace between
//! elements, in a form Python's `xmlrpc.client`, Ruby's `xmlrpc` and Go's `kolo/xmlrpc` accept,
//! and replaces characters XML cannot carry by U+FFFD, so what it writes is well-formed.

mod error;
mod parse;
mod value;
mod write;
pub use nubo_xmltext as xml_chars;

pub use error::DecodeError;
pub use parse::{MAX_DEPTH, parse_call, parse_response};
pub use value::{MethodCall, MethodResponse, Value, failure, success};
pub use write::{push_escaped, write_call, write_response};

/// Fault codes xmlrpc-c uses, which OpenNebula clients see.
pub mod fault {
    /// The request could not be parsed (malformed XML or XML-RPC).
    pub const PARSE: i32 = -503;
    /// A parameter has the wrong type.
    pub const TYPE: i32 = -501;
    /// A mandatory parameter is missing.
    pub const MISSING: i32 = -502;
    /// No method by that name.
    pub const NO_METHOD: i32 = -506;
    /// The message is larger than the server accepts.
    pub const TOO_LARGE: i32 = -509;
}
