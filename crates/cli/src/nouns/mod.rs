//! One module per kind of object, each with its subcommands (`Cmd`), its table columns and
//! its own verbs; the shared verbs come from [`crate::common`].

mod acl;
pub mod app;
mod cluster;
mod datastore;
mod document;
mod ec2_key;
mod group;
mod host;
mod image;
mod secgroup;
mod template;
mod user;
mod vm;
mod vmgroup;
mod vnet;
mod vntemplate;
mod zone;

use clap::Subcommand;

use crate::context::Ctx;
use crate::flags::Global;

/// The kinds of objects `nubo` manages.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Virtual machines: create, list, show, every life-cycle action, disks, NICs,
    /// snapshots, and waiting for a state.
    #[command(subcommand)]
    Vm(vm::Cmd),
    /// VM templates: create from a file or flags, instantiate into VMs.
    #[command(subcommand)]
    Template(template::Cmd),
    /// VM groups: roles of VMs and their affinity rules.
    #[command(subcommand)]
    Vmgroup(vmgroup::Cmd),
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
    /// EC2 access keys: create (prints the secret once), list, delete.
    #[command(subcommand)]
    Ec2Key(ec2_key::Cmd),
    /// Apps on the PaaS, over the REST API: create, deploy (git, directory, tarball) and
    /// follow the build, scale, config vars, releases, builds, instances, logs.
    App(app::AppArgs),
}

/// Runs a command: the XML-RPC nouns with the context of the global flags, `app` (the
/// REST API) with its own.
pub fn run(command: Command, global: &Global) -> anyhow::Result<()> {
    let ctx = || Ctx::from_flags(global);
    match command {
        Command::App(args) => app::run(args, global),
        Command::Vm(cmd) => cmd.run(&ctx()?),
        Command::Template(cmd) => cmd.run(&ctx()?),
        Command::Vmgroup(cmd) => cmd.run(&ctx()?),
        Command::User(cmd) => cmd.run(&ctx()?),
        Command::Group(cmd) => cmd.run(&ctx()?),
        Command::Acl(cmd) => cmd.run(&ctx()?),
        Command::Host(cmd) => cmd.run(&ctx()?),
        Command::Cluster(cmd) => cmd.run(&ctx()?),
        Command::Datastore(cmd) => cmd.run(&ctx()?),
        Command::Image(cmd) => cmd.run(&ctx()?),
        Command::Vnet(cmd) => cmd.run(&ctx()?),
        Command::Vntemplate(cmd) => cmd.run(&ctx()?),
        Command::Secgroup(cmd) => cmd.run(&ctx()?),
        Command::Document(cmd) => cmd.run(&ctx()?),
        Command::Zone(cmd) => cmd.run(&ctx()?),
        Command::Ec2Key(cmd) => cmd.run(&ctx()?),
    }
}
