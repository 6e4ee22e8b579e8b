//! EC2 ids of Nubo objects: a prefix and the object's id in eight or more decimal digits
//! (`i-00000012` is VM 12, `ami-00000003` image 3, `vol-00000004` image 4), as
//! OpenNebula's econe server wrote them.
//!
//! What an id may look like is AWS's rule: the prefix, `-` and 8 or 17 lowercase hex
//! digits (and Nubo's own ids from 10^8 on, written in 9 or 10 digits). An id of that form
//! that is not a Nubo object's (`i-0123abcd`, or too large a number) names nothing:
//! `*.NotFound`, as AWS answers; anything else (`i-0`, `i-zz`) is `*.Malformed`.

use nubo_types::Oid;

use crate::error::{Ec2Error, Ec2Result};

/// Instances (VMs).
pub const INSTANCE: Kind = Kind {
    prefix: "i",
    malformed: "InvalidInstanceID.Malformed",
    unknown: "InvalidInstanceID.NotFound",
    unknown_message: |id| format!("The instance ID '{id}' does not exist"),
};
/// Machine images (images of type OS).
pub const IMAGE: Kind = Kind {
    prefix: "ami",
    malformed: "InvalidAMIID.Malformed",
    unknown: "InvalidAMIID.NotFound",
    unknown_message: |id| format!("The image id '[{id}]' does not exist"),
};
/// Volumes (persistent DATABLOCK images).
pub const VOLUME: Kind = Kind {
    prefix: "vol",
    malformed: "InvalidVolumeID.Malformed",
    unknown: "InvalidVolume.NotFound",
    unknown_message: |id| format!("The volume '{id}' does not exist."),
};
/// Snapshots (DATABLOCK images copied from a volume).
pub const SNAPSHOT: Kind = Kind {
    prefix: "snap",
    malformed: "InvalidSnapshotID.Malformed",
    unknown: "InvalidSnapshot.NotFound",
    unknown_message: |id| format!("The snapshot '{id}' does not exist."),
};
/// Elastic IP allocations (the reservation network holding the address).
pub const ALLOCATION: Kind = Kind {
    prefix: "eipalloc",
    malformed: "InvalidAllocationID.Malformed",
    unknown: "InvalidAllocationID.NotFound",
    unknown_message: |id| format!("The allocation ID '{id}' does not exist"),
};
/// Elastic IP associations (named after the allocation: one at a time).
pub const ASSOCIATION: Kind = Kind {
    prefix: "eipassoc",
    malformed: "InvalidAssociationID.Malformed",
    unknown: "InvalidAssociationID.NotFound",
    unknown_message: |id| format!("The association ID '{id}' does not exist"),
};
/// Reservations (the VMs of one RunInstances, named after the first).
pub const RESERVATION: Kind = Kind {
    prefix: "r",
    malformed: "InvalidParameterValue",
    unknown: "InvalidReservationID.NotFound",
    unknown_message: |id| format!("The reservation ID '{id}' does not exist"),
};
/// Security groups.
pub const SECURITY_GROUP: Kind = Kind {
    prefix: "sg",
    malformed: "InvalidGroupId.Malformed",
    unknown: "InvalidGroup.NotFound",
    unknown_message: |id| format!("The security group '{id}' does not exist"),
};

/// A kind of EC2 id.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// The prefix before `-`.
    pub prefix: &'static str,
    /// The error code of a malformed id.
    pub malformed: &'static str,
    /// The error code of a well-formed id that names nothing.
    pub unknown: &'static str,
    /// The message of a well-formed id that names nothing.
    unknown_message: fn(&str) -> String,
}

impl Kind {
    /// The EC2 id of object `id`.
    pub fn id(&self, id: Oid) -> String {
        format!("{}-{id:08}", self.prefix)
    }

    /// The error for the well-formed id `text` that names nothing the caller sees
    /// (`InvalidInstanceID.NotFound`, …).
    pub fn unknown_id(&self, text: &str) -> Ec2Error {
        Ec2Error::client(self.unknown, (self.unknown_message)(text))
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

    /// The object id in an EC2 id: `*.Malformed` when `text` does not have an id's form,
    /// `*.NotFound` ([`Kind::unknown_id`]) when it has one but cannot be a Nubo object's.
    pub fn parse(&self, text: &str) -> Ec2Result<Oid> {
        let malformed = || {
            Ec2Error::client(
                self.malformed,
                format!("Invalid id: \"{text}\" (expecting \"{}-...\")", self.prefix),
            )
        };
        let body = text
            .strip_prefix(self.prefix)
            .and_then(|r| r.strip_prefix('-'))
            .ok_or_else(malformed)?;
        let decimal = !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit());
        // AWS's form: 8 or 17 lowercase hex digits.
        let aws_form = matches!(body.len(), 8 | 17)
            && body
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        // Nubo's ids of objects from 10^8 on: 9 or 10 digits, no leading zero.
        let nubo_form = decimal && body.len() > 8 && !body.starts_with('0');
        if decimal
            && (aws_form || nubo_form)
            && let Ok(id) = body.parse::<Oid>()
        {
            return Ok(id);
        }
        if aws_form {
            return Err(self.unknown_id(text));
        }
        Err(malformed())
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
        assert_eq!(INSTANCE.parse("i-2147483647").expect("ok"), i32::MAX);
        assert_eq!(INSTANCE.parse("i-00000000000000012").expect("ok"), 12);
        let malformed = [
            "i-",
            "i-0",
            "i-x1",
            "i-zz",
            "i-0000012",
            "i-000000012",
            "i-0123ABCD",
            "ami-00000001",
            "i00000001",
            "i-99999999999",
            "i-2147483648",
            "i-0123abcdef",
        ];
        for bad in malformed {
            assert_eq!(
                INSTANCE.parse(bad).expect_err(bad).code,
                "InvalidInstanceID.Malformed"
            );
        }
        // AWS's form (8 or 17 hex digits) that no Nubo object has: it names nothing.
        for unknown in ["i-0123abcd", "i-0123456789abcdef0", "i-99999999999999999"] {
            let e = INSTANCE.parse(unknown).expect_err(unknown);
            assert_eq!(e.code, "InvalidInstanceID.NotFound");
            assert!(e.message.contains(unknown), "{}", e.message);
        }
        assert_eq!(
            VOLUME.parse("vol-deadbeef").expect_err("unknown").code,
            "InvalidVolume.NotFound"
        );
        assert_eq!(
            SNAPSHOT.parse("snap-0").expect_err("malformed").code,
            "InvalidSnapshotID.Malformed"
        );
        assert_eq!(account(7), "000000000007");
    }
}
