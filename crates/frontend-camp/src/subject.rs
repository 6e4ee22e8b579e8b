//! What an operation or a sensor is about: an assembly (a PaaS app) or one of its
//! components (a process type of the app's current release), found from the ids in the
//! request's path as the caller may see them (404 otherwise, as for the assembly itself).

use nubo_core::Caller;
use nubo_paas::model::App;

use crate::assemblies::{app_of, assembly_uri, component_of};
use crate::error::CampError;
use crate::{Base, Camp};

/// Which kind of resource a subject is, as parameter definition paths name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An assembly.
    Assembly,
    /// A component.
    Component,
}

impl Kind {
    /// Its name in paths and types: `assembly`, `component`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Assembly => "assembly",
            Kind::Component => "component",
        }
    }

    /// The kind a path segment names.
    pub fn parse(text: &str) -> Option<Kind> {
        match text {
            "assembly" => Some(Kind::Assembly),
            "component" => Some(Kind::Component),
            _ => None,
        }
    }
}

/// An assembly or a component, with its app as the caller sees it.
#[derive(Debug, Clone)]
pub enum Subject {
    /// The app.
    Assembly(App),
    /// The app and one of its process types.
    Component(App, String),
}

impl Subject {
    /// The assembly `id` names (404 when the caller may not see it).
    pub fn assembly(camp: &Camp, caller: &Caller, id: &str) -> Result<Subject, CampError> {
        Ok(Subject::Assembly(app_of(camp, caller, id)?))
    }

    /// The component `id` (`{app id}-{type}`) names (404 when there is none).
    pub fn component(camp: &Camp, caller: &Caller, id: &str) -> Result<Subject, CampError> {
        let (app, kind) = component_of(camp, caller, id)?;
        Ok(Subject::Component(app, kind))
    }

    /// Which kind it is.
    pub fn kind(&self) -> Kind {
        match self {
            Subject::Assembly(_) => Kind::Assembly,
            Subject::Component(..) => Kind::Component,
        }
    }

    /// Its app.
    pub fn app(&self) -> &App {
        match self {
            Subject::Assembly(app) | Subject::Component(app, _) => app,
        }
    }

    /// Its process type, for a component.
    pub fn process_type(&self) -> Option<&str> {
        match self {
            Subject::Assembly(_) => None,
            Subject::Component(_, kind) => Some(kind),
        }
    }

    /// Its URI.
    pub fn uri(&self, base: &Base) -> String {
        match self {
            Subject::Assembly(app) => assembly_uri(base, app),
            Subject::Component(app, kind) => base.v1(&format!("components/{}-{kind}", app.id)),
        }
    }

    /// How messages name it: `assembly shop`, `component web of shop`.
    pub fn label(&self) -> String {
        match self {
            Subject::Assembly(app) => format!("assembly {}", app.name),
            Subject::Component(app, kind) => format!("component {kind} of {}", app.name),
        }
    }
}
