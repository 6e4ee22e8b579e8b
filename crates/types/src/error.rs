//! The public error of Nubo's core, with OpenNebula's error codes.

use crate::{ObjectKind, Oid};

/// OpenNebula's numeric error classes, as sent in the third element of a failure reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum ErrorCode {
    /// The call could not be authenticated.
    Authentication = 0x100,
    /// The caller may not do this.
    Authorization = 0x200,
    /// The object does not exist.
    NoExists = 0x400,
    /// The object is in a state that does not allow this.
    Action = 0x800,
    /// The parameters are wrong.
    RpcApi = 0x1000,
    /// Something inside failed.
    Internal = 0x2000,
    /// A new object could not be allocated.
    Allocate = 0x4000,
    /// OpenNebula's code for a locked object. Kept because clients know it, but Nubo no
    /// longer produces it: as oned does, a lock is reported as [`ErrorCode::Authorization`]
    /// (see [`Error::Locked`]).
    Locked = 0x8000,
}

/// Every failure the core reports. Each front end maps it onto its own wire form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The session did not name a valid, enabled user with the right secret.
    #[error("User couldn't be authenticated, aborting call.")]
    Authentication,
    /// ACLs and permissions deny the request.
    #[error("User [{uid}] : Not authorized to perform {op} {object}.")]
    Authorization {
        /// The caller.
        uid: Oid,
        /// The operation, e.g. `MANAGE`.
        op: String,
        /// The object, e.g. `USER [4]`.
        object: String,
    },
    /// A caller outside the oneadmin group set a restricted attribute (OpenNebula answers
    /// it with the authorization code). [`Error::restricted`] words it as oned does.
    #[error("{message}")]
    Restricted {
        /// What was refused, e.g. `User [4] : VM Template includes a restricted attribute
        /// RAW.`
        message: String,
    },
    /// A named object is missing.
    #[error("Error getting {} [{id}].", kind.human_name())]
    NoExists {
        /// What kind of object.
        kind: ObjectKind,
        /// Its id.
        id: Oid,
    },
    /// The object's state does not allow the request.
    #[error("{message}")]
    Action {
        /// What was wrong.
        message: String,
    },
    /// The request's parameters are wrong.
    #[error("{message}")]
    Api {
        /// What was wrong.
        message: String,
    },
    /// An internal failure, e.g. the store failed.
    #[error("{message}")]
    Internal {
        /// What failed.
        message: String,
    },
    /// A new object could not be created. Worded and coded as oned answers its pool's
    /// refusal: most kinds' `pool_allocate` return INTERNAL with the bare reason
    /// (`NAME is already taken by TEMPLATE 3.`), hosts, clusters, images and zones
    /// ALLOCATE with `Error allocating a new <object>. <reason>` (see [`Error::code`]).
    #[error("{}", allocate_text(*kind, message))]
    Allocate {
        /// What kind of object.
        kind: ObjectKind,
        /// Why.
        message: String,
    },
    /// A quota limit would be exceeded (reported as an AUTHORIZATION error, as oned does).
    #[error("{message}")]
    Quota {
        /// Which limit, of whom.
        message: String,
    },
    /// The object's lock blocks the operation. OpenNebula 7.4 checks locks while it
    /// authorizes (`AuthRequest::add_auth`), so this is an AUTHORIZATION failure worded as
    /// oned words it for the oneadmin group (`VM is locked. [5]`); other users get the
    /// plain [`Error::Authorization`].
    #[error("User [{uid}] : {} is locked. [{id}].", kind.acl_name())]
    Locked {
        /// The caller.
        uid: Oid,
        /// What kind of object.
        kind: ObjectKind,
        /// Its id.
        id: Oid,
    },
}

impl Error {
    /// The OpenNebula error code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Authentication => ErrorCode::Authentication,
            Error::Authorization { .. }
            | Error::Quota { .. }
            | Error::Restricted { .. }
            | Error::Locked { .. } => ErrorCode::Authorization,
            Error::NoExists { .. } => ErrorCode::NoExists,
            Error::Action { .. } => ErrorCode::Action,
            Error::Api { .. } => ErrorCode::RpcApi,
            Error::Internal { .. } => ErrorCode::Internal,
            Error::Allocate { kind, .. } if allocates_as_internal(*kind) => ErrorCode::Internal,
            Error::Allocate { .. } => ErrorCode::Allocate,
        }
    }

    /// A state error.
    pub fn action(message: impl Into<String>) -> Self {
        Error::Action {
            message: message.into(),
        }
    }

    /// A parameter error.
    pub fn api(message: impl Into<String>) -> Self {
        Error::Api {
            message: message.into(),
        }
    }

    /// An internal error.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal {
            message: message.into(),
        }
    }

    /// A missing object.
    pub fn no_exists(kind: ObjectKind, id: Oid) -> Self {
        Error::NoExists { kind, id }
    }

    /// A restricted attribute refused to user `uid`, worded as `Request::failure_message`
    /// words an AUTHORIZATION failure that has a message: `User [4] : <what>.`
    pub fn restricted(uid: Oid, what: impl std::fmt::Display) -> Self {
        Error::Restricted {
            message: format!("User [{uid}] : {what}."),
        }
    }

    /// An allocation failure.
    pub fn allocate(kind: ObjectKind, message: impl Into<String>) -> Self {
        Error::Allocate {
            kind,
            message: message.into(),
        }
    }
}

/// Whether oned answers a refused allocation of `kind` INTERNAL with the bare reason: the
/// `pool_allocate` of templates, VMs, networks, network templates, security groups, VM
/// groups, documents, datastores, groups and users return `Request::INTERNAL`
/// (src/rm/api/*API.cc); hosts', clusters' and images' return ALLOCATE, as zone.allocate's
/// refusal on a standalone front-end does.
fn allocates_as_internal(kind: ObjectKind) -> bool {
    !matches!(
        kind,
        ObjectKind::Host | ObjectKind::Cluster | ObjectKind::Image | ObjectKind::Zone
    )
}

fn allocate_text(kind: ObjectKind, message: &str) -> String {
    if allocates_as_internal(kind) {
        message.to_string()
    } else {
        format!("Error allocating a new {}. {message}", kind.human_name())
    }
}

/// Result with the core's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_are_worded_per_kind() {
        let vm = Error::allocate(ObjectKind::Template, "NAME is already taken by TEMPLATE 3.");
        assert_eq!(vm.code() as i32, 0x2000);
        assert_eq!(vm.to_string(), "NAME is already taken by TEMPLATE 3.");
        let host = Error::allocate(ObjectKind::Host, "NAME is already taken by HOST 0.");
        assert_eq!(host.code() as i32, 0x4000);
        assert_eq!(
            host.to_string(),
            "Error allocating a new host. NAME is already taken by HOST 0."
        );
    }

    #[test]
    fn codes_match_opennebula() {
        assert_eq!(Error::Authentication.code() as i32, 256);
        assert_eq!(Error::no_exists(ObjectKind::Vm, 9).code() as i32, 1024);
        assert_eq!(
            Error::no_exists(ObjectKind::Vm, 9).to_string(),
            "Error getting virtual machine [9]."
        );
        let locked = Error::Locked {
            uid: 0,
            kind: ObjectKind::Image,
            id: 3,
        };
        assert_eq!(locked.code() as i32, 0x200);
        assert_eq!(locked.to_string(), "User [0] : IMAGE is locked. [3].");
        let restricted = Error::restricted(4, "VM Template includes a restricted attribute RAW");
        assert_eq!(
            restricted.to_string(),
            "User [4] : VM Template includes a restricted attribute RAW."
        );
    }
}
