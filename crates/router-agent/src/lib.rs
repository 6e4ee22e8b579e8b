//! `nubo-router`: Nubo's HTTP router for apps ([`nubo_router`]) run as its own process,
//! on another machine say, instead of inside nubod (`nubod --router`). Its routes are a
//! table it polls from nubod's REST API (`GET /router/routes`, [`remote`]); its lines about
//! requests go back into the apps' logs in batches (`POST /router/log`, [`shipper`]). Both
//! calls need the credentials of a member of the oneadmin group.

pub mod api;
pub mod remote;
pub mod shipper;
