//! Object permission bits (owner/group/other × use/manage/admin) and authorization operations.

use serde::{Deserialize, Serialize};

/// What a request wants to do with an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthOp {
    /// Read or use the object.
    Use,
    /// Change the object.
    Manage,
    /// Change the object's sensitive parts.
    Admin,
    /// Create an object of a kind.
    Create,
}

impl AuthOp {
    /// OpenNebula's name of the operation (`USE`, `MANAGE`, `ADMIN`, `CREATE`).
    pub fn name(self) -> &'static str {
        match self {
            AuthOp::Use => "USE",
            AuthOp::Manage => "MANAGE",
            AuthOp::Admin => "ADMIN",
            AuthOp::Create => "CREATE",
        }
    }

    /// The ACL right bit of the operation.
    pub fn acl_right(self) -> u64 {
        match self {
            AuthOp::Use => crate::acl::USE,
            AuthOp::Manage => crate::acl::MANAGE,
            AuthOp::Admin => crate::acl::ADMIN,
            AuthOp::Create => crate::acl::CREATE,
        }
    }
}

/// The nine permission bits of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Permissions {
    /// Owner may use.
    pub owner_u: bool,
    /// Owner may manage.
    pub owner_m: bool,
    /// Owner may administer.
    pub owner_a: bool,
    /// Group may use.
    pub group_u: bool,
    /// Group may manage.
    pub group_m: bool,
    /// Group may administer.
    pub group_a: bool,
    /// Others may use.
    pub other_u: bool,
    /// Others may manage.
    pub other_m: bool,
    /// Others may administer.
    pub other_a: bool,
}

impl Permissions {
    /// Permissions from an octal mode such as `0o640` (owner, group, other; u=4 m=2 a=1).
    pub fn from_octal(mode: u32) -> Self {
        let bit = |shift: u32, v: u32| (mode >> shift) & v != 0;
        Permissions {
            owner_u: bit(6, 4),
            owner_m: bit(6, 2),
            owner_a: bit(6, 1),
            group_u: bit(3, 4),
            group_m: bit(3, 2),
            group_a: bit(3, 1),
            other_u: bit(0, 4),
            other_m: bit(0, 2),
            other_a: bit(0, 1),
        }
    }

    /// The permissions left by a umask applied to full rights (777), as OpenNebula does.
    pub fn from_umask(umask: u32) -> Self {
        Self::from_octal(0o777 & !umask)
    }

    /// The octal mode of these permissions.
    pub fn to_octal(self) -> u32 {
        self.as_array()
            .iter()
            .fold(0, |acc, b| (acc << 1) | u32::from(*b))
    }

    /// The bits in XML order: owner u/m/a, group u/m/a, other u/m/a.
    pub fn as_array(self) -> [bool; 9] {
        [
            self.owner_u,
            self.owner_m,
            self.owner_a,
            self.group_u,
            self.group_m,
            self.group_a,
            self.other_u,
            self.other_m,
            self.other_a,
        ]
    }

    /// Applies `chmod` arguments in XML order, where -1 keeps a bit, 0 clears and 1 sets it.
    /// Any other value is rejected, in `PoolObjectSQL::set_permissions`'s words.
    pub fn apply_chmod(self, args: [i32; 9]) -> Result<Self, String> {
        let mut bits = self.as_array();
        for (bit, arg) in bits.iter_mut().zip(args) {
            match arg {
                -1 => {}
                0 => *bit = false,
                1 => *bit = true,
                _ => return Err("New permission values must be -1, 0 or 1".to_string()),
            }
        }
        let [
            owner_u,
            owner_m,
            owner_a,
            group_u,
            group_m,
            group_a,
            other_u,
            other_m,
            other_a,
        ] = bits;
        Ok(Permissions {
            owner_u,
            owner_m,
            owner_a,
            group_u,
            group_m,
            group_a,
            other_u,
            other_m,
            other_a,
        })
    }

    /// Whether the owner may do `op`.
    pub fn owner_allows(self, op: AuthOp) -> bool {
        Self::allows(op, self.owner_u, self.owner_m, self.owner_a)
    }

    /// Whether members of the object's group may do `op`.
    pub fn group_allows(self, op: AuthOp) -> bool {
        Self::allows(op, self.group_u, self.group_m, self.group_a)
    }

    /// Whether anybody may do `op`.
    pub fn other_allows(self, op: AuthOp) -> bool {
        Self::allows(op, self.other_u, self.other_m, self.other_a)
    }

    fn allows(op: AuthOp, u: bool, m: bool, a: bool) -> bool {
        match op {
            AuthOp::Use => u,
            AuthOp::Manage => m,
            AuthOp::Admin => a,
            AuthOp::Create => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umask_177_gives_600() {
        let p = Permissions::from_umask(0o177);
        assert_eq!(p.to_octal(), 0o600);
        assert!(p.owner_allows(AuthOp::Use) && p.owner_allows(AuthOp::Manage));
        assert!(!p.owner_allows(AuthOp::Admin) && !p.group_allows(AuthOp::Use));
    }

    #[test]
    fn chmod_keeps_sets_and_rejects() {
        let p = Permissions::from_octal(0o600);
        let q = p
            .apply_chmod([-1, -1, 1, 1, -1, -1, -1, -1, 0])
            .expect("valid");
        assert_eq!(q.to_octal(), 0o740);
        assert!(p.apply_chmod([2, -1, -1, -1, -1, -1, -1, -1, -1]).is_err());
    }
}
