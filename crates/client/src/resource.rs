//! The generic core every object kind shares: [`Resource`] sends `one.<kind>.<verb>` calls
//! for the standard shapes (info, delete, update, rename, chmod, chown, lock, pool listing,
//! name lookup), and capability traits say which kinds support which verbs, so
//! `client.user().rename(…)` does not compile where OpenNebula has no `one.user.rename`.
//!
//! Per-kind extras live in [`crate::nouns`].

use std::marker::PhantomData;
use std::str::FromStr;

use nubo_types::Permissions;
use nubo_xmlrpc::Value;

use crate::xml::Element;
use crate::{Client, ClientError};

/// How a kind's pool is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolShape {
    /// `<x>pool.info()`: the whole pool; no filter.
    Whole,
    /// `<x>pool.info(filter, start, end)`.
    Filtered,
    /// `documentpool.info(filter, start, end, type)`: also filtered by document type.
    Typed,
    /// `vmpool.info(filter, start, end, state)`: also filtered by state (listed here with -1,
    /// every state but DONE).
    Stated,
}

/// What the wire calls a kind of object.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// Human name, for messages (`user`, `virtual network`).
    pub name: &'static str,
    /// Method prefix: `one.<method>.info`.
    pub method: &'static str,
    /// Pool method prefix: `one.<pool_method>.info`.
    pub pool_method: &'static str,
    /// Root element of one object (`USER`).
    pub element: &'static str,
    /// Root element of the pool (`USER_POOL`).
    pub pool_element: &'static str,
    /// How the pool is listed.
    pub pool: PoolShape,
}

/// A kind of object; implemented by the marker types in [`crate::nouns`].
pub trait Noun {
    /// Its names on the wire.
    const KIND: Kind;
}

/// Kinds with `rename(id, name)`.
pub trait Renamable: Noun {}
/// Kinds with permissions and an owner: `chmod` and `chown`.
pub trait Owned: Noun {}
/// Kinds with `lock(id, level)` and `unlock(id)`.
pub trait Lockable: Noun {}
/// Kinds whose pool is listed with `<x>pool.info` without a type ([`PoolShape::Whole`],
/// [`PoolShape::Filtered`] or [`PoolShape::Stated`]).
pub trait Listable: Noun {}
/// Kinds created from a template alone: `allocate(tmpl)`.
pub trait TemplateAllocate: Noun {}
/// Kinds with `clone(id, name)`.
pub trait Clonable: Noun {}
/// Kinds with `enable(id, bool)`.
pub trait Enableable: Noun {}
/// Kinds with `quota(id, tmpl)`.
pub trait HasQuota: Noun {}

/// Which objects a filtered pool listing returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Everything the user may use (-2).
    All,
    /// The user's own objects (-3).
    Mine,
    /// Objects of the user's primary group (-4).
    Group,
    /// The user's own objects and those of all the user's groups (-1).
    MineAndGroups,
    /// Objects owned by this user id.
    User(i32),
}

impl Filter {
    /// The number `pool.info` takes.
    pub fn code(self) -> i32 {
        match self {
            Filter::All => -2,
            Filter::Mine => -3,
            Filter::Group => -4,
            Filter::MineAndGroups => -1,
            Filter::User(uid) => uid,
        }
    }
}

impl FromStr for Filter {
    type Err = String;

    /// `all`, `mine`, `group`, `mine-group` or a user id.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "all" => Ok(Filter::All),
            "mine" => Ok(Filter::Mine),
            "group" => Ok(Filter::Group),
            "mine-group" | "mine_group" => Ok(Filter::MineAndGroups),
            other => match other.parse::<i32>() {
                Ok(uid) if uid >= 0 => Ok(Filter::User(uid)),
                _ => Err(format!(
                    "expected all, mine, group, mine-group or a user id, got {s:?}"
                )),
            },
        }
    }
}

/// How much a lock forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockLevel {
    /// USE and above (1).
    Use,
    /// MANAGE and above (2).
    Manage,
    /// ADMIN (3).
    Admin,
    /// Everything (4).
    All,
}

impl LockLevel {
    /// The number `lock` takes.
    pub fn code(self) -> i32 {
        match self {
            LockLevel::Use => 1,
            LockLevel::Manage => 2,
            LockLevel::Admin => 3,
            LockLevel::All => 4,
        }
    }
}

impl FromStr for LockLevel {
    type Err = String;

    /// `use`, `manage`, `admin` or `all`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "use" => Ok(LockLevel::Use),
            "manage" => Ok(LockLevel::Manage),
            "admin" => Ok(LockLevel::Admin),
            "all" => Ok(LockLevel::All),
            _ => Err(format!("expected use, manage, admin or all, got {s:?}")),
        }
    }
}

/// The nine `chmod` arguments (owner/group/other × use/manage/admin, each 0 or 1) for an
/// octal mode such as `0o640`; `None` if the mode is above `0o777`.
pub fn chmod_args(mode: u32) -> Option<[i32; 9]> {
    (mode <= 0o777).then(|| Permissions::from_octal(mode).as_array().map(i32::from))
}

/// Calls on objects of kind `N` through one [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct Resource<'c, N> {
    client: &'c Client,
    noun: PhantomData<N>,
}

impl<'c, N: Noun> Resource<'c, N> {
    /// Calls on `N` objects through `client`.
    pub fn new(client: &'c Client) -> Self {
        Resource {
            client,
            noun: PhantomData,
        }
    }

    /// The client calls go through.
    pub fn client(&self) -> &'c Client {
        self.client
    }

    /// The full method name of `verb` (`one.user.info`).
    pub fn method(verb: &str) -> String {
        format!("one.{}.{verb}", N::KIND.method)
    }

    /// Calls `one.<kind>.<verb>` with `params` (after the session).
    pub fn call(&self, verb: &str, params: Vec<Value>) -> Result<Value, ClientError> {
        self.client.call(&Self::method(verb), params)
    }

    /// Calls `one.<kind>.<verb>`, which answers with an object id.
    pub fn call_id(&self, verb: &str, params: Vec<Value>) -> Result<i32, ClientError> {
        self.client.call_id(&Self::method(verb), params)
    }

    /// Calls `one.<kind>.<verb>(id, …)` for its effect (the answer, an id, is dropped).
    pub fn act(&self, verb: &str, id: i32, rest: Vec<Value>) -> Result<(), ClientError> {
        let mut params = vec![Value::Int(id)];
        params.extend(rest);
        self.call(verb, params).map(drop)
    }

    /// `info(id)`: the object as XML.
    pub fn info(&self, id: i32) -> Result<String, ClientError> {
        self.client
            .call_string(&Self::method("info"), vec![Value::Int(id)])
    }

    /// `info(id)`, read into an [`Element`] tree.
    pub fn info_tree(&self, id: i32) -> Result<Element, ClientError> {
        Ok(Element::parse(&self.info(id)?)?)
    }

    /// `delete(id)`.
    pub fn delete(&self, id: i32) -> Result<(), ClientError> {
        self.act("delete", id, vec![])
    }

    /// `update(id, template, append)`: replaces the template, or merges into it.
    pub fn update(&self, id: i32, template: &str, append: bool) -> Result<(), ClientError> {
        self.act(
            "update",
            id,
            vec![Value::from(template), Value::Int(i32::from(append))],
        )
    }

    /// Calls `one.<kind>pool.info` with `params` and returns the pool as XML.
    pub fn pool_call(&self, params: Vec<Value>) -> Result<String, ClientError> {
        let method = format!("one.{}.info", N::KIND.pool_method);
        self.client.call_string(&method, params)
    }
}

impl<N: Listable> Resource<'_, N> {
    /// The pool as XML. `filter` only matters for [`PoolShape::Filtered`] and
    /// [`PoolShape::Stated`] kinds; the others always answer with the whole pool.
    pub fn pool_info(&self, filter: Filter) -> Result<String, ClientError> {
        self.pool_call(pool_params(N::KIND.pool, filter))
    }

    /// The pool, read into an [`Element`] tree.
    pub fn pool_tree(&self, filter: Filter) -> Result<Element, ClientError> {
        Ok(Element::parse(&self.pool_info(filter)?)?)
    }
}

impl<N: Noun> Resource<'_, N> {
    /// The id of the object `name_or_id` designates: a number is taken as an id, anything
    /// else is looked up by NAME in the pool (not possible for [`PoolShape::Typed`] kinds;
    /// VMs are looked for among the live ones first, then among the ended ones).
    pub fn id_of(&self, name_or_id: &str) -> Result<i32, ClientError> {
        if let Ok(id) = name_or_id.trim().parse::<i32>() {
            return Ok(id);
        }
        if N::KIND.pool == PoolShape::Typed {
            return Err(ClientError::NameLookupUnsupported {
                kind: N::KIND.name,
                name: name_or_id.to_owned(),
            });
        }
        let pool = Element::parse(&self.pool_call(pool_params(N::KIND.pool, Filter::All))?)?;
        match find_by_name(&pool, N::KIND, name_or_id) {
            // A VM that has ended is only listed with state -2 (every state): look there too,
            // after the live ones, so a new VM can reuse an ended one's name.
            Err(ClientError::NameNotFound { .. }) if N::KIND.pool == PoolShape::Stated => {
                let mut params = pool_params(PoolShape::Stated, Filter::All);
                params[3] = Value::Int(-2);
                find_by_name(
                    &Element::parse(&self.pool_call(params)?)?,
                    N::KIND,
                    name_or_id,
                )
            }
            other => other,
        }
    }
}

/// The parameters of `<x>pool.info` for a pool shape.
fn pool_params(shape: PoolShape, filter: Filter) -> Vec<Value> {
    match shape {
        PoolShape::Whole => vec![],
        PoolShape::Filtered | PoolShape::Typed => {
            vec![Value::Int(filter.code()), Value::Int(-1), Value::Int(-1)]
        }
        PoolShape::Stated => vec![
            Value::Int(filter.code()),
            Value::Int(-1),
            Value::Int(-1),
            Value::Int(-1),
        ],
    }
}

/// The id of the only object in `pool` named `name`.
fn find_by_name(pool: &Element, kind: Kind, name: &str) -> Result<i32, ClientError> {
    let ids: Vec<&str> = pool
        .children(kind.element)
        .filter(|o| o.text_of("NAME") == Some(name))
        .filter_map(|o| o.text_of("ID"))
        .collect();
    match ids.as_slice() {
        [one] => one.parse().map_err(|_| ClientError::Reply {
            method: format!("one.{}.info", kind.pool_method),
            detail: format!("{} {name:?} has a non-numeric ID {one:?}", kind.name),
        }),
        [] => Err(ClientError::NameNotFound {
            kind: kind.name,
            name: name.to_owned(),
        }),
        many => Err(ClientError::NameAmbiguous {
            kind: kind.name,
            name: name.to_owned(),
            count: many.len(),
        }),
    }
}

impl<N: Renamable> Resource<'_, N> {
    /// `rename(id, name)`.
    pub fn rename(&self, id: i32, name: &str) -> Result<(), ClientError> {
        self.act("rename", id, vec![Value::from(name)])
    }
}

impl<N: Owned> Resource<'_, N> {
    /// `chmod(id, …9 bits)`; each bit is 0 or 1, or -1 to keep it (see [`chmod_args`]).
    pub fn chmod(&self, id: i32, bits: [i32; 9]) -> Result<(), ClientError> {
        self.act("chmod", id, bits.into_iter().map(Value::Int).collect())
    }

    /// `chown(id, uid, gid)`; -1 keeps the owner or the group.
    pub fn chown(&self, id: i32, uid: i32, gid: i32) -> Result<(), ClientError> {
        self.act("chown", id, vec![Value::Int(uid), Value::Int(gid)])
    }
}

impl<N: Lockable> Resource<'_, N> {
    /// `lock(id, level)`.
    pub fn lock(&self, id: i32, level: LockLevel) -> Result<(), ClientError> {
        self.act("lock", id, vec![Value::Int(level.code())])
    }

    /// `unlock(id)`.
    pub fn unlock(&self, id: i32) -> Result<(), ClientError> {
        self.act("unlock", id, vec![])
    }
}

impl<N: TemplateAllocate> Resource<'_, N> {
    /// `allocate(tmpl)`: creates an object from a template; returns its id.
    pub fn allocate(&self, template: &str) -> Result<i32, ClientError> {
        self.call_id("allocate", vec![Value::from(template)])
    }
}

impl<N: Clonable> Resource<'_, N> {
    /// `clone(id, name)`: copies an object; returns the copy's id.
    pub fn clone_as(&self, id: i32, name: &str) -> Result<i32, ClientError> {
        self.call_id("clone", vec![Value::Int(id), Value::from(name)])
    }
}

impl<N: Enableable> Resource<'_, N> {
    /// `enable(id, enabled)`.
    pub fn enable(&self, id: i32, enabled: bool) -> Result<(), ClientError> {
        self.act("enable", id, vec![Value::Bool(enabled)])
    }
}

impl<N: HasQuota> Resource<'_, N> {
    /// `quota(id, tmpl)`: sets quota limits from a template such as
    /// `VM=[VMS=10, MEMORY=4096]`.
    pub fn quota(&self, id: i32, template: &str) -> Result<(), ClientError> {
        self.act("quota", id, vec![Value::from(template)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIND: Kind = Kind {
        name: "image",
        method: "image",
        pool_method: "imagepool",
        element: "IMAGE",
        pool_element: "IMAGE_POOL",
        pool: PoolShape::Filtered,
    };

    #[test]
    fn filters_and_levels_parse() {
        assert_eq!("mine".parse::<Filter>().map(Filter::code), Ok(-3));
        assert_eq!("GROUP".parse::<Filter>().map(Filter::code), Ok(-4));
        assert_eq!("all".parse::<Filter>().map(Filter::code), Ok(-2));
        assert_eq!("mine-group".parse::<Filter>().map(Filter::code), Ok(-1));
        assert_eq!("7".parse::<Filter>(), Ok(Filter::User(7)));
        assert!("-5".parse::<Filter>().is_err());
        assert!("nobody".parse::<Filter>().is_err());
        assert_eq!("manage".parse::<LockLevel>().map(LockLevel::code), Ok(2));
        assert_eq!("All".parse::<LockLevel>().map(LockLevel::code), Ok(4));
        assert!("none".parse::<LockLevel>().is_err());
    }

    #[test]
    fn octal_modes_become_nine_bits() {
        assert_eq!(chmod_args(0o640), Some([1, 1, 0, 1, 0, 0, 0, 0, 0]));
        assert_eq!(chmod_args(0o777), Some([1; 9]));
        assert_eq!(chmod_args(0o001), Some([0, 0, 0, 0, 0, 0, 0, 0, 1]));
        assert_eq!(chmod_args(0o1000), None);
    }

    #[test]
    fn names_are_found_once() {
        let pool = Element::parse(
            "<IMAGE_POOL><IMAGE><ID>3</ID><NAME>a</NAME></IMAGE><IMAGE><ID>4</ID><NAME>b</NAME>\
             </IMAGE><IMAGE><ID>5</ID><NAME>b</NAME></IMAGE></IMAGE_POOL>",
        )
        .expect("parse");
        assert_eq!(find_by_name(&pool, KIND, "a").expect("a"), 3);
        let err = find_by_name(&pool, KIND, "b").expect_err("ambiguous");
        assert_eq!(
            err.to_string(),
            "2 objects of kind image are named \"b\": use an id"
        );
        let err = find_by_name(&pool, KIND, "c").expect_err("missing");
        assert_eq!(err.to_string(), "no image named \"c\"");
    }
}
