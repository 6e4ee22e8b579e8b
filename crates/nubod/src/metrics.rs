//! `GET /metrics` on the API listener (docs/metrics.md): Prometheus' text format, or
//! OpenMetrics when the scraper asks for it. Scrapers are members of the oneadmin group
//! (HTTP Basic or a login token, as the REST API takes them) or present the `[metrics]
//! token` as a bearer token; no credentials get 401, other users 403. The cloud's state is
//! read from the core and the PaaS at each scrape.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nubo_metrics::{CloudView, Format, HostUse, HostView, InstanceView, Metrics, VmUsage, VmView};
use nubo_types::states::{HostState, LcmState, VmState};

/// The path scrapers ask.
pub const PATH: &str = "/metrics";

#[derive(Debug, Clone)]
struct Scrape {
    metrics: Metrics,
    paas: nubo_paas::Paas,
    token: Option<String>,
}

/// The router serving [`PATH`].
pub fn router(metrics: Metrics, paas: nubo_paas::Paas, token: Option<String>) -> axum::Router {
    axum::Router::new()
        .route(PATH, axum::routing::get(scrape))
        .with_state(Scrape {
            metrics,
            paas,
            token,
        })
}

async fn scrape(State(s): State<Scrape>, headers: HeaderMap) -> Response {
    if let Err(refused) = allowed(&s, headers.get(header::AUTHORIZATION)) {
        return refused.into_response();
    }
    let format = Format::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let paas = s.paas.clone();
    let view = match tokio::task::spawn_blocking(move || cloud_view(&paas)).await {
        Ok(Ok(view)) => view,
        Ok(Err(e)) => return failed(&e),
        Err(e) => return failed(&e),
    };
    match s.metrics.render(&view, format) {
        Ok(text) => {
            let mut r = text.into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            );
            r
        }
        Err(e) => failed(&e),
    }
}

fn failed(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "cannot render the metrics");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "cannot render the metrics\n",
    )
        .into_response()
}

/// Why a scrape was refused.
#[derive(Debug)]
enum Refusal {
    /// No credentials, or wrong ones (401).
    Unauthenticated(String),
    /// A user outside the oneadmin group (403).
    NotAdmin,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Unauthenticated(why) => {
                let mut r = (StatusCode::UNAUTHORIZED, format!("{why}\n")).into_response();
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"nubo\""),
                );
                r
            }
            Refusal::NotAdmin => (
                StatusCode::FORBIDDEN,
                "only the oneadmin group may read the metrics\n",
            )
                .into_response(),
        }
    }
}

/// Lets in the configured bearer token and members of the oneadmin group.
fn allowed(s: &Scrape, authorization: Option<&HeaderValue>) -> Result<(), Refusal> {
    let value = authorization.map(HeaderValue::as_bytes);
    if let (Some(token), Some(given)) = (&s.token, value.and_then(nubo_metrics::access::bearer))
        && nubo_metrics::access::token_matches(token, given)
    {
        return Ok(());
    }
    match s.paas.authenticate_basic(value) {
        Ok(caller) if caller.is_admin() => Ok(()),
        Ok(_) => Err(Refusal::NotAdmin),
        Err(e) => Err(Refusal::Unauthenticated(e.to_string())),
    }
}

/// The cloud as the metrics show it.
fn cloud_view(paas: &nubo_paas::Paas) -> nubo_paas::Result<CloudView> {
    let core = paas.core();
    let (mut hosts, mut vms) = core.read(|state| {
        let hosts: Vec<HostView> = state
            .hosts
            .values()
            .map(|h| HostView {
                id: h.id,
                name: h.name.clone(),
                state: h.state.name(),
                cpu_capacity: cores(h.share.max_cpu as f64),
                cpu_allocated: cores(h.share.cpu_usage as f64),
                memory_capacity: kb(h.share.max_mem as f64),
                memory_allocated: kb(h.share.mem_usage as f64),
                running_vms: h.share.running_vms,
                monitored: None,
            })
            .collect();
        let vms: Vec<VmView> = state
            .vms
            .values()
            .map(|v| VmView {
                id: v.meta.id,
                name: v.meta.name.clone(),
                state: v.state.name(),
                lcm_state: if v.state == VmState::Active {
                    v.lcm_state.name()
                } else {
                    LcmState::LcmInit.name()
                },
                usage: None,
            })
            .collect();
        Ok((hosts, vms))
    })?;
    // Samples are read apart from the state (they have a lock of their own).
    for h in &mut hosts {
        h.monitored = core.host_latest_sample(h.id).map(|s| HostUse {
            cpu_used: cores(s.used_cpu as f64),
            memory_used: kb(s.used_memory as f64),
        });
    }
    for v in vms.iter_mut().filter(|v| v.state != VmState::Done.name()) {
        v.usage = core.vm_latest_sample(v.id).map(|s| VmUsage {
            cpu: cores(s.cpu),
            memory: kb(s.memory_kb as f64),
            rx_bytes: s.netrx,
            tx_bytes: s.nettx,
        });
    }
    let (apps, instances) = paas.metrics_view()?;
    Ok(CloudView {
        host_states: (0..16)
            .filter_map(HostState::from_code)
            .map(HostState::name)
            .collect(),
        vm_states: (0..16)
            .filter_map(VmState::from_code)
            .filter(|s| *s != VmState::Active)
            .map(VmState::name)
            .collect(),
        hosts,
        vms,
        apps: apps as u64,
        instances: instances
            .into_iter()
            .map(|i| InstanceView {
                app: i.app,
                process_type: i.process_type,
                state: i.state,
            })
            .collect(),
    })
}

/// OpenNebula's CPU percent (100 = one core) in cores.
fn cores(percent: f64) -> f64 {
    percent / 100.0
}

/// Kilobytes in bytes.
fn kb(kilobytes: f64) -> f64 {
    kilobytes * 1024.0
}
