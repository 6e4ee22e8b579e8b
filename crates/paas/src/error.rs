//! The PaaS's typed error: what a caller did wrong or what failed, with enough to answer in
//! each front end's own form (problem+json, CAMP status codes).

/// Every failure of a PaaS operation.
#[derive(Debug, thiserror::Error)]
pub enum PaasError {
    /// The object does not exist (or the caller may not know of it).
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. `app "shop"`.
        what: String,
    },
    /// The request is malformed or names something invalid.
    #[error("{0}")]
    Invalid(String),
    /// The request clashes with what exists (a taken name, a stack in use).
    #[error("{0}")]
    Conflict(String),
    /// The object changed since the caller read it (`If-Match`).
    #[error("{what} has changed since revision {expected}; read it again")]
    Stale {
        /// The object.
        what: String,
        /// The revision the caller expected.
        expected: String,
    },
    /// The core refused or failed (authentication, authorization, quotas, …).
    #[error(transparent)]
    Core(#[from] nubo_types::Error),
    /// The store failed; nothing of the change was kept.
    #[error("cannot keep the change")]
    Store(#[from] nubo_store::StoreError),
    /// A stored record could not be read or written as JSON.
    #[error("cannot encode or decode PaaS record {kind} {id}")]
    Record {
        /// The record's kind.
        kind: &'static str,
        /// Its id.
        id: i64,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}

/// The PaaS's result type.
pub type Result<T, E = PaasError> = std::result::Result<T, E>;

impl PaasError {
    /// `NotFound` for `kind "name"`.
    pub fn not_found(kind: &str, name: impl std::fmt::Display) -> Self {
        PaasError::NotFound {
            what: format!("{kind} \"{name}\""),
        }
    }
}
