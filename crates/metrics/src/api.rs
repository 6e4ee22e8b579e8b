//! API calls of every front end: a counter by interface, operation, result and HTTP status
//! class, and a latency histogram by interface, operation and result. Front ends name the
//! call with an [`Operation`] response extension taken from their own tables, so what a
//! client sends can never make up a label value.

use std::borrow::Cow;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::status_class;

/// The operation of a call whose name the front end does not know (an XML-RPC method or
/// EC2 action outside its table).
pub const UNKNOWN: &str = "unknown";
/// The operation of a request no route or front end named (a wrong path).
pub const UNMATCHED: &str = "unmatched";

/// The front end a call came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interface {
    /// OpenNebula's XML-RPC API.
    Xmlrpc,
    /// The EC2 Query API.
    Ec2,
    /// The REST/JSON API.
    Rest,
    /// The CAMP API.
    Camp,
}

impl Interface {
    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Interface::Xmlrpc => "xmlrpc",
            Interface::Ec2 => "ec2",
            Interface::Rest => "rest",
            Interface::Camp => "camp",
        }
    }
}

/// What a front end says about the call it answered, put in the response's extensions:
/// the operation's name and, where the HTTP status does not tell (XML-RPC failures are
/// answered 200), whether it succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    name: Cow<'static, str>,
    ok: Option<bool>,
}

impl Operation {
    /// The operation `name` if `table` lists it, else [`UNKNOWN`].
    pub fn from_table(name: &str, table: &[&'static str]) -> Operation {
        let known = table.iter().find(|t| **t == name).copied();
        Operation {
            name: Cow::Borrowed(known.unwrap_or(UNKNOWN)),
            ok: None,
        }
    }

    /// A fixed operation name.
    pub fn named(name: &'static str) -> Operation {
        Operation {
            name: Cow::Borrowed(name),
            ok: None,
        }
    }

    /// The route `template` (e.g. `/api/v1/apps/{app}`) taken by `method`; a method that
    /// is not a standard one becomes `OTHER`.
    pub fn route(method: &str, template: &str) -> Operation {
        const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
        let method = METHODS
            .iter()
            .find(|m| **m == method)
            .copied()
            .unwrap_or("OTHER");
        if template.contains("__private__") {
            // axum's catch-all of a nested router's fallback: no route of ours.
            return Operation::named(UNMATCHED);
        }
        Operation {
            name: Cow::Owned(format!("{method} {template}")),
            ok: None,
        }
    }

    /// This operation, known to have succeeded (`true`) or failed.
    pub fn with_outcome(self, ok: bool) -> Operation {
        Operation {
            ok: Some(ok),
            ..self
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    interface: &'static str,
    operation: String,
    result: &'static str,
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    interface: &'static str,
    operation: String,
    result: &'static str,
}

/// The API families.
#[derive(Debug)]
pub(crate) struct ApiMetrics {
    calls: Family<CallLabels, Counter>,
    latency: Family<LatencyLabels, Histogram, fn() -> Histogram>,
}

impl ApiMetrics {
    pub(crate) fn register(registry: &mut Registry) -> ApiMetrics {
        let calls = Family::<CallLabels, Counter>::default();
        let latency = Family::<LatencyLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            crate::buckets::request,
        );
        registry.register(
            "nubo_api_requests",
            "API calls by interface, operation, result (ok or error) and HTTP status class",
            calls.clone(),
        );
        registry.register(
            "nubo_api_request_duration_seconds",
            "How long API calls took to answer, by interface, operation and result",
            latency.clone(),
        );
        ApiMetrics { calls, latency }
    }

    pub(crate) fn observe(
        &self,
        interface: Interface,
        operation: Option<&Operation>,
        status: u16,
        took: Duration,
    ) {
        let ok = operation.and_then(|o| o.ok).unwrap_or(status < 400);
        let result = if ok { "ok" } else { "error" };
        let operation = operation.map_or(UNMATCHED, Operation::name).to_owned();
        self.calls
            .get_or_create(&CallLabels {
                interface: interface.label(),
                operation: operation.clone(),
                result,
                status: status_class(status),
            })
            .inc();
        self.latency
            .get_or_create(&LatencyLabels {
                interface: interface.label(),
                operation,
                result,
            })
            .observe(took.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CloudView, Format, Metrics};

    const TABLE: &[&str] = &["one.vm.allocate", "one.vm.info"];

    #[test]
    fn names_outside_the_table_are_unknown() {
        assert_eq!(
            Operation::from_table("one.vm.info", TABLE).name(),
            "one.vm.info"
        );
        assert_eq!(
            Operation::from_table("one.vm.nosuch", TABLE).name(),
            UNKNOWN
        );
        assert_eq!(Operation::from_table("", TABLE).name(), UNKNOWN);
    }

    #[test]
    fn routes_carry_a_standard_method_or_other() {
        assert_eq!(
            Operation::route("GET", "/api/v1/apps/{app}").name(),
            "GET /api/v1/apps/{app}"
        );
        assert_eq!(Operation::route("BREW", "/x").name(), "OTHER /x");
        assert_eq!(
            Operation::route("GET", "/api/v1/{*__private__axum_nest_tail_param}").name(),
            UNMATCHED
        );
    }

    #[test]
    fn calls_are_counted_with_their_outcome() {
        let m = Metrics::new();
        let info = Operation::from_table("one.vm.info", TABLE);
        let failed = Operation::from_table("one.vm.allocate", TABLE).with_outcome(false);
        let ms = Duration::from_millis(3);
        m.observe_call(Interface::Xmlrpc, Some(&info), 200, ms);
        m.observe_call(Interface::Xmlrpc, Some(&info), 200, ms);
        m.observe_call(Interface::Xmlrpc, Some(&failed), 200, ms);
        m.observe_call(Interface::Rest, None, 404, ms);
        let text = m
            .render(&CloudView::default(), Format::OpenMetrics)
            .expect("render");
        for line in [
            r#"nubo_api_requests_total{interface="xmlrpc",operation="one.vm.info",result="ok",status="2xx"} 2"#,
            r#"nubo_api_requests_total{interface="xmlrpc",operation="one.vm.allocate",result="error",status="2xx"} 1"#,
            r#"nubo_api_requests_total{interface="rest",operation="unmatched",result="error",status="4xx"} 1"#,
            r#"nubo_api_request_duration_seconds_count{interface="xmlrpc",operation="one.vm.info",result="ok"} 2"#,
            r#"nubo_api_request_duration_seconds_bucket{le="0.0025",interface="xmlrpc",operation="one.vm.info",result="ok"} 0"#,
            r#"nubo_api_request_duration_seconds_bucket{le="0.005",interface="xmlrpc",operation="one.vm.info",result="ok"} 2"#,
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
