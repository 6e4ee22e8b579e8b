//! DescribeAccountAttributes: what the caller's account (its Nubo user) may have.

use nubo_core::model::{Amount, QuotaKind};

use crate::error::{Ec2Error, Ec2Result};
use crate::params::Params;
use crate::xml::Xml;

use super::Ctx;

/// Instances the caller may run: the user's VMS quota, or the default quota's.
fn max_instances(ctx: &Ctx) -> Ec2Result<String> {
    let user = ctx.core.user_info(&ctx.caller, -1)?;
    let defaults = ctx.core.default_user_quotas()?;
    let limit_of = |q: &nubo_core::model::Quotas| {
        q.entry(QuotaKind::Vm, -1)
            .map_or(Amount::DEFAULT_LIMIT, |e| e.limit_amount("VMS"))
    };
    let mut limit = limit_of(&user.quotas);
    if limit == Amount::DEFAULT_LIMIT {
        limit = limit_of(&defaults);
    }
    Ok(if limit.is_limit() {
        limit.to_string()
    } else {
        "unlimited".to_string()
    })
}

/// DescribeAccountAttributes.
pub fn describe_attributes(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let all = [
        ("supported-platforms", "VPC".to_string()),
        ("default-vpc", "none".to_string()),
        ("max-instances", max_instances(ctx)?),
        ("max-elastic-ips", "unlimited".to_string()),
        ("vpc-max-elastic-ips", "unlimited".to_string()),
        (
            "vpc-max-security-groups-per-interface",
            "unlimited".to_string(),
        ),
    ];
    let wanted = p.list("AttributeName");
    for w in &wanted {
        if !all.iter().any(|(n, _)| n == w) {
            return Err(Ec2Error::client(
                "InvalidParameterValue",
                format!("Unknown account attribute '{w}'"),
            ));
        }
    }
    let shown = all
        .iter()
        .filter(|(n, _)| wanted.is_empty() || wanted.contains(n));
    x.list("accountAttributeSet", shown, |x, (name, value)| {
        x.text("attributeName", name)
            .list("attributeValueSet", [value], |x, v| {
                x.text("attributeValue", v);
            });
    });
    Ok(())
}
