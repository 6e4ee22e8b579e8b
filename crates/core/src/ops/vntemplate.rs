//! Virtual network template operations: allocate, delete, clone, and instantiate into a
//! new virtual network (`one.vntemplate.*`).

use std::collections::BTreeSet;

use nubo_template::Template;
use nubo_types::{AuthOp, Error, ObjectKind, Oid, Result};

use super::cluster::DEFAULT_CLUSTER;
use super::generic::{check_name, fetch_for, parse_template};
use super::owner::new_meta;
use super::vnet::create_vnet;
use crate::auth::{Caller, authorize_create};
use crate::model::VnTemplate;
use crate::state::State;
use crate::tx::Tx;
use crate::{Core, now};

fn alloc(e: Error) -> Error {
    Error::allocate(ObjectKind::VnTemplate, e.to_string())
}

/// Stores a new template `name` owned by `caller`.
fn store_new(tx: &mut Tx, caller: &Caller, name: String, template: Template) -> Result<Oid> {
    authorize_create(tx.state, caller, ObjectKind::VnTemplate)?;
    check_name::<VnTemplate>(tx.state, &name, caller.uid, None).map_err(alloc)?;
    let id = tx.next_oid(ObjectKind::VnTemplate);
    tx.put(VnTemplate {
        meta: new_meta(caller, id, name),
        regtime: now(),
        template,
    })?;
    Ok(id)
}

/// The clusters a network instantiated from `t` joins: its `CLUSTER_IDS` that exist, or
/// the default cluster when none are named.
fn template_clusters(state: &State, t: &Template) -> BTreeSet<Oid> {
    match t
        .get("CLUSTER_IDS")
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => BTreeSet::from([DEFAULT_CLUSTER]),
        Some(list) => list
            .split(',')
            .filter_map(|s| s.trim().parse::<Oid>().ok())
            .filter(|id| state.clusters.contains_key(id))
            .collect(),
    }
}

impl Core {
    /// Creates a virtual network template (NAME plus the network definition).
    pub async fn vntemplate_allocate(&self, caller: &Caller, text: &str) -> Result<Oid> {
        let mut template = parse_template(text).map_err(alloc)?;
        let name = template
            .remove("NAME")
            .into_iter()
            .find_map(|a| a.value.as_single().map(|s| s.trim().to_string()))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                // VNTemplatePool::allocate's PoolObjectSQL::name_is_valid.
                alloc(Error::api("Invalid NAME, it cannot be empty"))
            })?;
        self.write(move |tx| store_new(tx, caller, name, template))
            .await
    }

    /// Deletes a virtual network template.
    pub async fn vntemplate_delete(&self, caller: &Caller, id: Oid) -> Result<Oid> {
        self.write(|tx| {
            fetch_for::<VnTemplate>(tx.state, caller, id, AuthOp::Manage)?;
            tx.delete::<VnTemplate>(id);
            Ok(id)
        })
        .await
    }

    /// Copies a template under a new name, owned by the caller.
    pub async fn vntemplate_clone(&self, caller: &Caller, id: Oid, name: &str) -> Result<Oid> {
        let name = name.trim().to_string();
        self.write(move |tx| {
            let source = fetch_for::<VnTemplate>(tx.state, caller, id, AuthOp::Use)?;
            store_new(tx, caller, name, source.template.clone())
        })
        .await
    }

    /// Creates a virtual network from template `id`, merged with `extra`, named `name`
    /// (or `<template name>-<vnet id>` when empty). Returns the network's id.
    pub async fn vntemplate_instantiate(
        &self,
        caller: &Caller,
        id: Oid,
        name: &str,
        extra: &str,
    ) -> Result<Oid> {
        let extra = parse_template(extra)?;
        let name = name.trim().to_string();
        self.write(move |tx| {
            let source = fetch_for::<VnTemplate>(tx.state, caller, id, AuthOp::Use)?;
            let mut template = source.template.clone();
            template.merge(&extra);
            let clusters = template_clusters(tx.state, &template);
            template.remove("NAME");
            template.set("TEMPLATE_NAME", source.meta.name.clone());
            template.set("TEMPLATE_ID", id.to_string());
            if !name.is_empty() {
                template.set("NAME", name);
            }
            create_vnet(tx, caller, template, id, clusters)
        })
        .await
    }
}
