//! DescribeRegions (this cloud is one region) and DescribeAvailabilityZones (its clusters).

use crate::error::{Ec2Error, Ec2Result};
use crate::filters::{Facts, Filters};
use crate::params::Params;
use crate::xml::Xml;

use super::Ctx;

struct Region<'a>(&'a Ctx);

impl Facts for Region<'_> {
    fn facts(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "region-name" => Some(vec![self.0.region.clone()]),
            "endpoint" => Some(vec![self.0.host.clone()]),
            "opt-in-status" => Some(vec!["opt-in-not-required".into()]),
            _ => None,
        }
    }
}

/// DescribeRegions.
pub fn describe_regions(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let filters = Filters::parse(p)?;
    let region = Region(ctx);
    filters.check(&|n| region.facts(n).is_some())?;
    let names = p.list("RegionName");
    if let Some(other) = names.iter().find(|n| **n != ctx.region) {
        return Err(Ec2Error::client(
            "InvalidParameterValue",
            format!(
                "Invalid region: {other} (this cloud is region '{}')",
                ctx.region
            ),
        ));
    }
    let shown = filters.matches(&region).then_some(&region);
    x.list("regionInfo", shown, |x, r| {
        x.text("regionName", &r.0.region)
            .text("regionEndpoint", &r.0.host)
            .text("optInStatus", "opt-in-not-required");
    });
    Ok(())
}

/// A cluster as an availability zone.
struct Zone<'a> {
    name: &'a str,
    id: String,
    region: &'a str,
}

impl Facts for Zone<'_> {
    fn facts(&self, name: &str) -> Option<Vec<String>> {
        Some(vec![match name {
            "zone-name" => self.name.to_string(),
            "zone-id" => self.id.clone(),
            "region-name" | "group-name" => self.region.to_string(),
            "state" => "available".into(),
            "zone-type" => "availability-zone".into(),
            "opt-in-status" => "opt-in-not-required".into(),
            _ => return None,
        }])
    }
}

/// The zone id of cluster `id`.
pub fn zone_id(region: &str, id: i32) -> String {
    format!("{region}-az{id}")
}

/// DescribeAvailabilityZones.
pub fn describe_zones(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let filters = Filters::parse(p)?;
    let clusters = ctx.core.cluster_names()?;
    let zones: Vec<Zone<'_>> = clusters
        .iter()
        .map(|(id, name)| Zone {
            name,
            id: zone_id(&ctx.region, *id),
            region: &ctx.region,
        })
        .collect();
    filters.check(&|n| {
        Zone {
            name: "",
            id: String::new(),
            region: "",
        }
        .facts(n)
        .is_some()
    })?;
    let (names, ids) = (p.list("ZoneName"), p.list("ZoneId"));
    for n in &names {
        if !zones.iter().any(|z| z.name == *n) {
            return Err(Ec2Error::client(
                "InvalidParameterValue",
                format!("The availability zone '{n}' does not exist"),
            ));
        }
    }
    for n in &ids {
        if !zones.iter().any(|z| z.id == *n) {
            return Err(Ec2Error::client(
                "InvalidParameterValue",
                format!("The availability zone id '{n}' does not exist"),
            ));
        }
    }
    let shown = zones.iter().filter(|z| {
        (names.is_empty() || names.contains(&z.name))
            && (ids.is_empty() || ids.contains(&z.id.as_str()))
            && filters.matches(*z)
    });
    x.list("availabilityZoneInfo", shown, |x, z| {
        x.text("zoneName", z.name)
            .text("zoneState", "available")
            .text("regionName", z.region)
            .text("zoneId", &z.id)
            .text("zoneType", "availability-zone")
            .text("optInStatus", "opt-in-not-required")
            .text("groupName", z.region)
            .empty("messageSet");
    });
    Ok(())
}
