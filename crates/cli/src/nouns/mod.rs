//! One module per kind of object, each with its subcommands (`Cmd`), its table columns and
//! its own verbs; the shared verbs come from [`crate::common`].

mod acl;
mod cluster;
mod datastore;
mod document;
mod group;
mod host;
mod image;
mod secgroup;
mod user;
mod vnet;
mod vntemplate;
mod zone;

use clap::Subcommand;

use crate::context::Ctx;

/// The kinds of objects `nubo` manages.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Users: create, list, passwords, groups, quotas, login tokens.
    #[command(subcommand)]
    User(user::Cmd),
    /// Groups: create, list, administrators, quotas.
    #[command(subcommand)]
    Group(group::Cmd),
    /// ACL rules such as "@1 VM+IMAGE/* CREATE *".
    #[command(subcommand)]
    Acl(acl::Cmd),
    /// Hosts: register, enable, disable, set offline.
    #[command(subcommand)]
    Host(host::Cmd),
    /// Clusters and the hosts, datastores and networks they hold.
    #[command(subcommand)]
    Cluster(cluster::Cmd),
    /// Datastores: create, permissions, enable and disable.
    #[command(subcommand)]
    Datastore(datastore::Cmd),
    /// Images: register, clone, persistence, type.
    #[command(subcommand)]
    Image(image::Cmd),
    /// Virtual networks, their address ranges and leases.
    #[command(subcommand)]
    Vnet(vnet::Cmd),
    /// Virtual network templates.
    #[command(subcommand)]
    Vntemplate(vntemplate::Cmd),
    /// Security groups.
    #[command(subcommand)]
    Secgroup(secgroup::Cmd),
    /// Generic documents (application data stored by type).
    #[command(subcommand)]
    Document(document::Cmd),
    /// Zones.
    #[command(subcommand)]
    Zone(zone::Cmd),
}

/// Runs a command.
pub fn run(command: Command, ctx: &Ctx) -> anyhow::Result<()> {
    match command {
        Command::User(cmd) => cmd.run(ctx),
        Command::Group(cmd) => cmd.run(ctx),
        Command::Acl(cmd) => cmd.run(ctx),
        Command::Host(cmd) => cmd.run(ctx),
        Command::Cluster(cmd) => cmd.run(ctx),
        Command::Datastore(cmd) => cmd.run(ctx),
        Command::Image(cmd) => cmd.run(ctx),
        Command::Vnet(cmd) => cmd.run(ctx),
        Command::Vntemplate(cmd) => cmd.run(ctx),
        Command::Secgroup(cmd) => cmd.run(ctx),
        Command::Document(cmd) => cmd.run(ctx),
        Command::Zone(cmd) => cmd.run(ctx),
    }
}
