//! EC2 ids of Nubo objects: a prefix and the object's id in eight or more decimal digits
//! (`i-00000012` is VM 12, `ami-00000003` image 3, `vol-00000004` image 4), as
//! OpenNebula's econe server wrote them.

use nubo_types::Oid;

use crate::error::{Ec2Error, Ec2Result};

/// Instances (VMs).
pub const INSTANCE: Kind = Kind {
    prefix: "i",
    malformed: "InvalidInstanceID.Malformed",
};
/// Machine images (images of type OS).
pub const IMAGE: Kind = Kind {
    prefix: "ami",
    malformed: "InvalidAMIID.Malformed",
};
/// Volumes (persistent DATABLOCK images).
pub const VOLUME: Kind = Kind {
    prefix: "vol",
    malformed: "InvalidVolumeID.Malformed",
};
/// Snapshots (DATABLOCK images copied from a volume).
pub const SNAPSHOT: Kind = Kind {
    prefix: "snap",
    malformed: "InvalidSnapshotID.Malformed",
};
/// Elastic IP allocations (the reservation network holding the address).
pub const ALLOCATION: Kind = Kind {
    prefix: "eipalloc",
    malformed: "InvalidAllocationID.Malformed",
};
/// Elastic IP associations (named after the allocation: one at a time).
pub const ASSOCIATION: Kind = Kind {
    prefix: "eipassoc",
    malformed: "InvalidAssociationID.Malformed",
};
/// Reservations (the VMs of one RunInstances, named after the first).
pub const RESERVATION: Kind = Kind {
    prefix: "r",
    malformed: "InvalidParameterValue",
};
/// Security groups.
pub const SECURITY_GROUP: Kind = Kind {
    prefix: "sg",
    malformed: "InvalidGroupId.Malformed",
};

/// A kind of EC2 id.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// The prefix before `-`.
    pub prefix: &'static str,
    /// The error code of a malformed id.
    pub malformed: &'static str,
}

impl Kind {
    /// The EC2 id of object `id`.
    pub fn id(&self, id: Oid) -> String {
        format!("{}-{id:08}", self.prefix)
    }

    /// The objects the EC2 ids `texts` name, all of which `known` must know (an unknown one
    /// fails the whole call with `missing`, as on EC2).
    pub fn known(
        &self,
        texts: &[&str],
        known: impl Fn(Oid) -> bool,
        missing: impl Fn(&str) -> Ec2Error,
    ) -> Ec2Result<Vec<Oid>> {
        texts
            .iter()
            .map(|text| {
                let id = self.parse(text)?;
                if known(id) {
                    Ok(id)
                } else {
                    Err(missing(text))
                }
            })
            .collect()
    }

    /// The object id in an EC2 id.
    pub fn parse(&self, text: &str) -> Ec2Result<Oid> {
        text.strip_prefix(self.prefix)
            .and_then(|r| r.strip_prefix('-'))
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<Oid>().ok())
            .ok_or_else(|| {
                Ec2Error::client(
                    self.malformed,
                    format!("Invalid id: \"{text}\" (expecting \"{}-...\")", self.prefix),
                )
            })
    }
}

/// A new random name or id: `prefix`, `-` and `digits` hex digits (EC2's key pair and
/// reservation ids have 17).
pub fn random(prefix: &str, digits: usize) -> Ec2Result<String> {
    let hex = nubo_core::auth::random_hex(digits.div_ceil(2))?;
    Ok(format!("{prefix}-{}", &hex[..digits]))
}

/// A Nubo user id as a 12-digit account id.
pub fn account(uid: Oid) -> String {
    format!("{uid:012}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_malformed_ids_are_refused() {
        assert_eq!(INSTANCE.id(12), "i-00000012");
        assert_eq!(INSTANCE.parse("i-00000012").expect("ok"), 12);
        assert_eq!(INSTANCE.parse("i-123456789").expect("ok"), 123_456_789);
        for bad in ["i-", "i-x1", "ami-00000001", "i00000001", "i-99999999999"] {
            assert_eq!(
                INSTANCE.parse(bad).expect_err(bad).code,
                "InvalidInstanceID.Malformed"
            );
        }
        assert_eq!(account(7), "000000000007");
    }
}
