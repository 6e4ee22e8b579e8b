//! The store's typed error: what went wrong, on which backend, with the driver error as the
//! source (never formatted into the message).

use nubo_types::ObjectKind;

/// Everything that can go wrong while opening, loading or writing the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The url names no backend the store knows.
    #[error(
        "unsupported store url scheme {scheme:?}: expected sqlite://PATH, sqlite::memory:, postgres:// or postgresql://"
    )]
    UnsupportedUrl {
        /// The part of the url before the first `:` (never the rest, which may hold a password).
        scheme: String,
    },
    /// The url has a known scheme but the driver could not parse it.
    #[error("invalid {backend} store url")]
    InvalidUrl {
        /// `sqlite` or `postgresql`.
        backend: &'static str,
        /// The driver's complaint.
        #[source]
        source: sqlx::Error,
    },
    /// The database could not be reached or opened.
    #[error("cannot connect to the {backend} store")]
    Connect {
        /// `sqlite` or `postgresql`.
        backend: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// SQLite refused to switch a file database to write-ahead logging.
    #[error("the sqlite store runs in journal mode {mode:?} instead of \"wal\"")]
    JournalMode {
        /// The journal mode SQLite reported.
        mode: String,
    },
    /// The database was migrated by a newer build than this one.
    #[error(
        "the store's schema is at version {found}, newer than version {supported} that this build knows; refusing to open it"
    )]
    SchemaTooNew {
        /// The version recorded in the database.
        found: i32,
        /// The newest version this build knows.
        supported: i32,
    },
    /// Reading or creating the schema version table failed.
    #[error("cannot read the schema version of the {backend} store")]
    SchemaVersion {
        /// `sqlite` or `postgresql`.
        backend: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A migration step failed; nothing of the migration run was applied.
    #[error("cannot migrate the {backend} store to schema version {version}")]
    Migrate {
        /// `sqlite` or `postgresql`.
        backend: &'static str,
        /// The version whose step failed (0 for the surrounding transaction).
        version: i32,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Reading the pools failed.
    #[error("cannot load the {backend} store")]
    Load {
        /// `sqlite` or `postgresql`.
        backend: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A commit failed; none of its changes were applied.
    #[error("cannot commit {changes} changes to the {backend} store")]
    Commit {
        /// `sqlite` or `postgresql`.
        backend: &'static str,
        /// How many changes the failed commit held.
        changes: usize,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A system attribute holds U+0000, which PostgreSQL's text type cannot store.
    #[error("system attribute {name} contains a NUL character, which the store cannot hold")]
    NulAttribute {
        /// The attribute's name.
        name: String,
    },
    /// A text field holds U+0000, which PostgreSQL text cannot store; refused on every backend
    /// so that both behave alike. Nothing of the commit was applied.
    #[error("the {field} of {} row {oid} contains a NUL character, which the store cannot hold", kind.table())]
    NulCharacter {
        /// The pool of the offending row.
        kind: ObjectKind,
        /// The row's id.
        oid: i32,
        /// `name` or `body`.
        field: &'static str,
    },
    /// A PaaS record's body holds U+0000. Nothing of the commit was applied.
    #[error(
        "the body of PaaS record {kind} {id} contains a NUL character, which the store cannot hold"
    )]
    PaasNul {
        /// The record's kind.
        kind: String,
        /// Its id.
        id: i64,
    },
    /// A kept answer holds U+0000, which PostgreSQL's text type cannot store.
    #[error("an answer kept for replay contains a NUL character, which the store cannot hold")]
    ReplayNul,
    /// A PaaS record's kind is not 1 to 32 of `[a-z0-9_]`. Nothing of the commit was applied.
    #[error("{kind:?} is not a PaaS record kind (1 to 32 of a-z, 0-9, _)")]
    PaasKind {
        /// The kind (at most its first 40 characters).
        kind: String,
    },
}
