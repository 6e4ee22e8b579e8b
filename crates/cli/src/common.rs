//! The verbs many kinds share, as small subcommand groups each noun flattens into its own
//! command (`Read` gives `list` and `show`, `Owner` gives `chmod`, `chown`, `chgrp`, …), and
//! their runners, generic over the kind. A group is only offered where the kind has the
//! matching capability in `nubo_client::resource`.

use clap::{Args, Subcommand};
use nubo_client::nouns::{Group, User};
use nubo_client::resource::{
    Clonable, Enableable, HasQuota, Listable, Lockable, Noun, Owned, PoolShape, Renamable,
    TemplateAllocate,
};
use nubo_client::{Filter, LockLevel};

use crate::context::Ctx;
use crate::exit::usage_error;
use crate::input;
use crate::output::Column;

/// The id of the object `text` names (an id, or a name looked up in the pool).
pub fn id<N: Noun>(ctx: &Ctx, text: &str) -> anyhow::Result<i32> {
    Ok(ctx.client.resource::<N>().id_of(text)?)
}

/// An object, by id or name.
#[derive(Debug, Args)]
pub struct Target {
    /// The object's id, or its name.
    #[arg(value_name = "ID")]
    pub id: String,
}

/// `list` and `show`.
#[derive(Debug, Subcommand)]
pub enum Read {
    /// List the objects: a table, or the whole pool with --json / --xml.
    List(ListArgs),
    /// Show one object: its attributes, then its template.
    Show(Target),
}

/// Which objects to list.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Whose objects: all (every object you may use), mine, group (your primary group's),
    /// mine-group (yours and your groups'), or a user id. Only VMs, templates, VM groups,
    /// images, networks, network templates, security groups and documents can be filtered.
    #[arg(long, short, default_value = "all", value_name = "FILTER")]
    pub filter: Filter,
}

impl Read {
    /// Runs `list` / `show` for kind `N`, listing with `columns`.
    pub fn run<N: Listable>(self, ctx: &Ctx, columns: &[Column]) -> anyhow::Result<()> {
        let res = ctx.client.resource::<N>();
        match self {
            Read::List(args) => {
                if N::KIND.pool == PoolShape::Whole && args.filter != Filter::All {
                    return Err(usage_error(format!(
                        "{} listings cannot be filtered: the server always returns them all",
                        N::KIND.name
                    )));
                }
                ctx.list(&res.pool_info(args.filter)?, N::KIND.element, columns)
            }
            Read::Show(t) => show::<N>(ctx, &t.id),
        }
    }
}

/// Shows one object of kind `N`.
pub fn show<N: Noun>(ctx: &Ctx, target: &str) -> anyhow::Result<()> {
    let res = ctx.client.resource::<N>();
    ctx.show(&res.info(res.id_of(target)?)?)
}

/// `update` and `delete`.
#[derive(Debug, Subcommand)]
pub enum Write {
    /// Replace the object's template with the one in FILE; with --append, merge into it.
    ///
    /// The template is in OpenNebula's language, e.g. `DESCRIPTION="web tier"` lines and
    /// `KEY=[ A="1", B="2" ]` vectors. Restricted attributes are kept either way.
    Update(UpdateArgs),
    /// Delete the object.
    Delete(Target),
}

/// The template for `update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The object's id, or its name.
    #[arg(value_name = "ID")]
    pub id: String,
    /// Template file, or - to read standard input.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Merge the attributes into the template instead of replacing it.
    #[arg(long, short)]
    pub append: bool,
}

impl Write {
    /// Runs `update` / `delete` for kind `N`.
    pub fn run<N: Noun>(self, ctx: &Ctx) -> anyhow::Result<()> {
        match self {
            Write::Update(u) => update::<N>(ctx, &u),
            Write::Delete(t) => {
                let res = ctx.client.resource::<N>();
                Ok(res.delete(res.id_of(&t.id)?)?)
            }
        }
    }
}

/// `update` alone, for kinds that are not deleted with a plain `delete` (VMs, templates).
#[derive(Debug, Subcommand)]
pub enum Edit {
    /// Replace the object's template with the one in FILE; with --append, merge into it.
    ///
    /// The template is in OpenNebula's language, e.g. `DESCRIPTION="web tier"` lines and
    /// `KEY=[ A="1", B="2" ]` vectors. Restricted attributes are kept either way.
    Update(UpdateArgs),
}

impl Edit {
    /// Runs `update` for kind `N`.
    pub fn run<N: Noun>(self, ctx: &Ctx) -> anyhow::Result<()> {
        let Edit::Update(u) = self;
        update::<N>(ctx, &u)
    }
}

/// Replaces (or with `--append` merges into) the template of an object of kind `N`.
pub fn update<N: Noun>(ctx: &Ctx, args: &UpdateArgs) -> anyhow::Result<()> {
    let res = ctx.client.resource::<N>();
    let template = input::template(&args.file)?;
    Ok(res.update(res.id_of(&args.id)?, &template, args.append)?)
}

/// `rename`.
#[derive(Debug, Subcommand)]
pub enum Rename {
    /// Give the object a new name.
    Rename {
        /// The object's id, or its current name.
        #[arg(value_name = "ID")]
        id: String,
        /// The new name.
        name: String,
    },
}

impl Rename {
    /// Runs `rename` for kind `N`.
    pub fn run<N: Renamable>(self, ctx: &Ctx) -> anyhow::Result<()> {
        let Rename::Rename { id, name } = self;
        let res = ctx.client.resource::<N>();
        Ok(res.rename(res.id_of(&id)?, &name)?)
    }
}

/// `chmod`, `chown` and `chgrp`.
#[derive(Debug, Subcommand)]
pub enum Owner {
    /// Set the permissions from an octal mode: owner, group, other; use=4 manage=2 admin=1.
    ///
    /// For example 640 lets the owner use and manage the object and its group use it.
    Chmod {
        /// The object's id, or its name.
        #[arg(value_name = "ID")]
        id: String,
        /// The mode, three octal digits such as 640.
        #[arg(value_name = "OCTAL")]
        mode: String,
    },
    /// Give the object to another user, and optionally another group.
    Chown {
        /// The object's id, or its name.
        #[arg(value_name = "ID")]
        id: String,
        /// The new owner: a user id or name.
        user: String,
        /// The new group: a group id or name (default: unchanged).
        group: Option<String>,
    },
    /// Move the object to another group.
    Chgrp {
        /// The object's id, or its name.
        #[arg(value_name = "ID")]
        id: String,
        /// The new group: a group id or name.
        group: String,
    },
}

impl Owner {
    /// Runs `chmod` / `chown` / `chgrp` for kind `N`.
    pub fn run<N: Owned>(self, ctx: &Ctx) -> anyhow::Result<()> {
        let res = ctx.client.resource::<N>();
        match self {
            Owner::Chmod { id, mode } => {
                let bits = input::octal(&mode)?;
                Ok(res.chmod(res.id_of(&id)?, bits)?)
            }
            Owner::Chown { id, user, group } => {
                let uid = self::id::<User>(ctx, &user)?;
                let gid = group.map_or(Ok(-1), |g| self::id::<Group>(ctx, &g))?;
                Ok(res.chown(res.id_of(&id)?, uid, gid)?)
            }
            Owner::Chgrp { id, group } => {
                let gid = self::id::<Group>(ctx, &group)?;
                Ok(res.chown(res.id_of(&id)?, -1, gid)?)
            }
        }
    }
}

/// `lock` and `unlock`.
#[derive(Debug, Subcommand)]
pub enum Lock {
    /// Lock the object against changes.
    ///
    /// At level use (the default) or all, every action on it is refused; at manage, manage
    /// and admin actions are; at admin, only admin actions.
    Lock {
        /// The object's id, or its name.
        #[arg(value_name = "ID")]
        id: String,
        /// What the lock forbids: use, manage, admin or all.
        #[arg(long, default_value = "use", value_name = "LEVEL")]
        level: LockLevel,
    },
    /// Remove the object's lock.
    Unlock {
        /// The object's id, or its name.
        #[arg(value_name = "ID")]
        id: String,
    },
}

impl Lock {
    /// Runs `lock` / `unlock` for kind `N`.
    pub fn run<N: Lockable>(self, ctx: &Ctx) -> anyhow::Result<()> {
        let res = ctx.client.resource::<N>();
        match self {
            Lock::Lock { id, level } => Ok(res.lock(res.id_of(&id)?, level)?),
            Lock::Unlock { id } => Ok(res.unlock(res.id_of(&id)?)?),
        }
    }
}

/// `enable` and `disable`.
#[derive(Debug, Subcommand)]
pub enum Toggle {
    /// Enable the object.
    Enable(Target),
    /// Disable the object.
    Disable(Target),
}

impl Toggle {
    /// Runs `enable` / `disable` for kind `N`.
    pub fn run<N: Enableable>(self, ctx: &Ctx) -> anyhow::Result<()> {
        let res = ctx.client.resource::<N>();
        let (target, on) = match self {
            Toggle::Enable(t) => (t, true),
            Toggle::Disable(t) => (t, false),
        };
        Ok(res.enable(res.id_of(&target.id)?, on)?)
    }
}

/// `clone`.
#[derive(Debug, Subcommand)]
pub enum CloneAs {
    /// Copy the object under a new name; prints the copy's id.
    Clone {
        /// The object's id, or its name.
        #[arg(value_name = "ID")]
        id: String,
        /// The copy's name.
        name: String,
    },
}

impl CloneAs {
    /// Runs `clone` for kind `N`.
    pub fn run<N: Clonable>(self, ctx: &Ctx) -> anyhow::Result<()> {
        let CloneAs::Clone { id, name } = self;
        let res = ctx.client.resource::<N>();
        ctx.created(res.clone_as(res.id_of(&id)?, &name)?)
    }
}

/// `create FILE` for kinds made from a template alone.
#[derive(Debug, Subcommand)]
pub enum Create {
    /// Create an object from a template file (- reads standard input); prints its id.
    Create {
        /// Template file, or - for standard input.
        #[arg(value_name = "FILE")]
        file: String,
    },
}

impl Create {
    /// Runs `create` for kind `N`.
    pub fn run<N: TemplateAllocate>(self, ctx: &Ctx) -> anyhow::Result<()> {
        let Create::Create { file } = self;
        let template = input::template(&file)?;
        ctx.created(ctx.client.resource::<N>().allocate(&template)?)
    }
}

/// `quota`.
#[derive(Debug, Subcommand)]
pub enum Quota {
    /// Set quota limits from a template file (- reads standard input).
    ///
    /// For example `VM=[VMS="10", MEMORY="4096", CPU="4"]` or
    /// `DATASTORE=[ID="1", SIZE="20480", IMAGES="10"]`; -1 means the default, -2 unlimited.
    Quota {
        /// The id, or the name.
        #[arg(value_name = "ID")]
        id: String,
        /// Template file, or - for standard input.
        #[arg(value_name = "FILE")]
        file: String,
    },
}

impl Quota {
    /// Runs `quota` for kind `N`.
    pub fn run<N: HasQuota>(self, ctx: &Ctx) -> anyhow::Result<()> {
        let Quota::Quota { id, file } = self;
        let template = input::template(&file)?;
        let res = ctx.client.resource::<N>();
        Ok(res.quota(res.id_of(&id)?, &template)?)
    }
}
