//! The EC2 Query API (version 2016-11-15) over Nubo's core, for boto3, the aws CLI and
//! every tool on the same protocol: form-encoded `POST /` (or `GET /?…`) requests signed
//! with an EC2 access key of a Nubo user (Signature V4 or V2), answered with EC2's XML.
//! An instance is a Nubo VM, an AMI an OS image, an instance type a VM template marked
//! with `EC2_INSTANCE_TYPE`, an availability zone a cluster. It translates; the core
//! decides, as that user, with the same ACLs and quotas as every other front end.

mod actions;
mod auth;
mod error;
mod filters;
mod ids;
mod paging;
mod params;
mod server;
mod sigv2;
mod sigv4;
mod tags;
mod xml;

#[cfg(test)]
mod fuzz_tests;

pub use server::{DEFAULT_BODY_LIMIT, Ec2Config, router};
