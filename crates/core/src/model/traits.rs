//! Capabilities that generic operations need: a template to update, a name to change.

use nubo_template::Template;

use crate::auth::RestrictedKind;

use super::{
    Cluster, Datastore, Document, Group, Host, Image, PoolObject, SecGroup, User, Vm, VmTemplate,
    VnTemplate, Vnet, Zone,
};

/// An object with a user-editable template.
pub trait Templated: PoolObject {
    /// The template.
    fn template(&self) -> &Template;
    /// The template, mutably.
    fn template_mut(&mut self) -> &mut Template;
    /// Which restricted attributes apply to this object's template, if any.
    fn restricted_kind(&self) -> Option<RestrictedKind> {
        None
    }
}

/// How unique an object's name must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameScope {
    /// Unique in the whole pool.
    Global,
    /// Unique among one owner's objects.
    PerOwner,
    /// Names may repeat.
    Free,
}

/// An object that can be renamed.
pub trait Named: PoolObject {
    /// Uniqueness rule for names of this kind.
    const NAME_SCOPE: NameScope;
    /// Sets the name.
    fn set_name(&mut self, name: String);
}

macro_rules! templated {
    ($($ty:ty),+) => {$(
        impl Templated for $ty {
            fn template(&self) -> &Template { &self.template }
            fn template_mut(&mut self) -> &mut Template { &mut self.template }
        }
    )+};
}
templated!(
    User, Group, Host, Cluster, Datastore, VnTemplate, SecGroup, Document, Zone
);

/// Kinds whose templates have restricted attributes.
macro_rules! templated_restricted {
    ($($ty:ty => $kind:expr),+) => {$(
        impl Templated for $ty {
            fn template(&self) -> &Template { &self.template }
            fn template_mut(&mut self) -> &mut Template { &mut self.template }
            fn restricted_kind(&self) -> Option<RestrictedKind> { $kind(self) }
        }
    )+};
}
templated_restricted!(
    VmTemplate => |_: &VmTemplate| Some(RestrictedKind::Vm),
    Image => |_: &Image| Some(RestrictedKind::Image),
    // As in oned, only reservations have restricted network attributes.
    Vnet => |v: &Vnet| (v.parent_network_id >= 0).then_some(RestrictedKind::Vnet)
);

/// A VM's editable template is its USER_TEMPLATE.
#[allow(clippy::misnamed_getters)]
impl Templated for Vm {
    fn template(&self) -> &Template {
        &self.user_template
    }
    fn template_mut(&mut self) -> &mut Template {
        &mut self.user_template
    }
    fn restricted_kind(&self) -> Option<RestrictedKind> {
        Some(RestrictedKind::Vm)
    }
}

macro_rules! named_meta {
    ($($ty:ty => $scope:expr),+) => {$(
        impl Named for $ty {
            const NAME_SCOPE: NameScope = $scope;
            fn set_name(&mut self, name: String) { self.meta.name = name; }
        }
    )+};
}
named_meta!(
    Datastore => NameScope::Global,
    Image => NameScope::PerOwner,
    Vnet => NameScope::PerOwner,
    VnTemplate => NameScope::PerOwner,
    SecGroup => NameScope::PerOwner,
    VmTemplate => NameScope::PerOwner,
    Vm => NameScope::Free,
    Document => NameScope::Free
);

macro_rules! named_plain {
    ($($ty:ty),+) => {$(
        impl Named for $ty {
            const NAME_SCOPE: NameScope = NameScope::Global;
            fn set_name(&mut self, name: String) { self.name = name; }
        }
    )+};
}
named_plain!(Host, Cluster, Zone, User, Group);
