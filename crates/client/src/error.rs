//! [`ClientError`]: every way a call can fail, from a missing `one_auth` file to the
//! server's own `[false, message, code, …]` answer.
//!
//! Messages are lowercase and never repeat their source; print the chain once, at the edge.
//! The server's own messages ([`ClientError::Api`]) are shown exactly as sent.

use std::path::PathBuf;

/// Why a call (or setting up a client) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered `[false, message, code, …]`; `message` already names the method,
    /// e.g. `[one.user.info] Error getting user [9].`.
    #[error("{message}")]
    Api {
        /// OpenNebula's error code (see [`nubo_types::ErrorCode`]): 256 authentication,
        /// 512 authorization, 1024 no such object, …
        code: i32,
        /// The server's message.
        message: String,
    },
    /// The server answered with an XML-RPC `<fault>` (unknown method, wrong parameter type…).
    #[error("[{method}] xml-rpc fault {code}: {message}")]
    Fault {
        /// The method that was called.
        method: String,
        /// The fault code (see [`nubo_xmlrpc::fault`]).
        code: i32,
        /// The fault string.
        message: String,
    },
    /// The request never got an HTTP answer: connection refused, timeout, bad URL…
    #[error("cannot reach {endpoint}")]
    Transport {
        /// The endpoint that was called.
        endpoint: String,
        /// What the HTTP client reported.
        #[source]
        source: Box<ureq::Error>,
    },
    /// The endpoint answered with an HTTP status other than 200.
    #[error("{endpoint} answered http status {status}")]
    Http {
        /// The endpoint that was called.
        endpoint: String,
        /// The HTTP status.
        status: u16,
    },
    /// The endpoint answered 200 but not with `text/xml`: probably not an XML-RPC server.
    #[error("{endpoint} answered with content type {content_type:?}, expected text/xml")]
    ContentType {
        /// The endpoint that was called.
        endpoint: String,
        /// The `Content-Type` it sent (empty if none).
        content_type: String,
    },
    /// The body could not be read.
    #[error("cannot read the reply of {endpoint}")]
    Body {
        /// The endpoint that was called.
        endpoint: String,
        /// What the HTTP client reported.
        #[source]
        source: Box<ureq::Error>,
    },
    /// The body is not a valid XML-RPC response.
    #[error("[{method}] malformed xml-rpc reply")]
    Decode {
        /// The method that was called.
        method: String,
        /// What the decoder reported.
        #[source]
        source: nubo_xmlrpc::DecodeError,
    },
    /// A valid XML-RPC response that is not OpenNebula's `[bool, value, code, …]` array, or
    /// whose value has an unexpected type.
    #[error("[{method}] unexpected reply: {detail}")]
    Reply {
        /// The method that was called.
        method: String,
        /// What was wrong with it.
        detail: String,
    },
    /// The endpoint uses `https://`, and this build carries no TLS.
    #[error("{endpoint}: https is not supported by this build, use an http:// endpoint")]
    TlsUnsupported {
        /// The endpoint.
        endpoint: String,
    },
    /// No credentials: `ONE_AUTH` is unset and no `one_auth` file exists.
    #[error(
        "no credentials: {} does not exist (set ONE_AUTH to a file holding user:password)",
        path.display()
    )]
    AuthMissing {
        /// The file that was looked for first.
        path: PathBuf,
    },
    /// The credentials file exists but cannot be read.
    #[error("cannot read credentials from {}", path.display())]
    AuthRead {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The credentials are not `user:password`.
    #[error("malformed credentials in {origin}: expected one user:password line")]
    AuthMalformed {
        /// Where they came from (a path, or `ONE_AUTH`).
        origin: String,
    },
    /// `ONE_XMLRPC_TIMEOUT` is not a number of seconds.
    #[error("invalid ONE_XMLRPC_TIMEOUT {value:?}: expected a number of seconds")]
    InvalidTimeout {
        /// The variable's value.
        value: String,
    },
    /// A reply that should hold an XML document does not.
    #[error("malformed xml in the reply")]
    Xml(#[from] crate::xml::XmlError),
    /// An ACL rule's text form does not parse.
    #[error("invalid acl rule")]
    AclRule(#[source] nubo_types::acl::AclError),
    /// No object of that kind has that name.
    #[error("no {kind} named {name:?}")]
    NameNotFound {
        /// The kind, e.g. `user`.
        kind: &'static str,
        /// The name looked for.
        name: String,
    },
    /// Objects of this kind cannot be looked up by name (documents: their pool is per type).
    #[error("{kind} objects are referred to by id, not by name ({name:?})")]
    NameLookupUnsupported {
        /// The kind.
        kind: &'static str,
        /// The name given.
        name: String,
    },
    /// Several objects of that kind have that name.
    #[error("{count} objects of kind {kind} are named {name:?}: use an id")]
    NameAmbiguous {
        /// The kind, e.g. `image`.
        kind: &'static str,
        /// The name looked for.
        name: String,
        /// How many matched.
        count: usize,
    },
}

/// What kind of failure an error is, for callers that react differently (the CLI's exit
/// codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// The server answered and refused (an API error or a fault), or a name matched no
    /// single object.
    Refused,
    /// The caller's input was rejected before any call (an ACL rule that does not parse).
    Input,
    /// The server could not be reached, or did not answer like an XML-RPC server.
    Unreachable,
    /// The client is not configured: credentials or settings missing or malformed.
    Config,
}

impl ClientError {
    /// What kind of failure this is.
    pub fn category(&self) -> Category {
        match self {
            ClientError::Api { .. }
            | ClientError::Fault { .. }
            | ClientError::NameNotFound { .. }
            | ClientError::NameAmbiguous { .. } => Category::Refused,
            ClientError::AclRule(_) | ClientError::NameLookupUnsupported { .. } => Category::Input,
            ClientError::Transport { .. }
            | ClientError::Http { .. }
            | ClientError::ContentType { .. }
            | ClientError::Body { .. }
            | ClientError::Decode { .. }
            | ClientError::Reply { .. }
            | ClientError::Xml(_) => Category::Unreachable,
            ClientError::TlsUnsupported { .. }
            | ClientError::AuthMissing { .. }
            | ClientError::AuthRead { .. }
            | ClientError::AuthMalformed { .. }
            | ClientError::InvalidTimeout { .. } => Category::Config,
        }
    }
}
