//! The settings derived from the global flags: the [`Client`] (flags over the environment)
//! and the output [`Format`], plus the printing every command shares.

use std::io::Write;

use anyhow::Context as _;
use nubo_client::env::Env;
use nubo_client::{Client, ClientError, Element};

use crate::flags::Global;
use crate::output::{self, Column};

/// How replies are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Tables and `key : value` lines.
    Human,
    /// The reply converted to JSON.
    Json,
    /// The reply as the server sent it.
    Xml,
}

/// What every command runs with.
#[derive(Debug)]
pub struct Ctx {
    /// The connection.
    pub client: Client,
    /// The output format.
    pub format: Format,
}

impl Ctx {
    /// Flags win over `ONE_XMLRPC` / `ONE_AUTH`, which win over the defaults.
    pub fn from_flags(global: &Global) -> Result<Ctx, ClientError> {
        let env = Env::from_process();
        let endpoint = global.endpoint.clone().unwrap_or_else(|| env.endpoint());
        let session = match (&global.user, &global.password) {
            (Some(user), Some(password)) => format!("{user}:{password}"),
            _ => env.session()?,
        };
        let format = match (global.json, global.xml) {
            (true, _) => Format::Json,
            (_, true) => Format::Xml,
            _ => Format::Human,
        };
        Ok(Ctx {
            client: Client::new(&endpoint, &session).with_timeout(env.timeout()?),
            format,
        })
    }

    /// Prints a pool: a table of its `element` children with `columns`, or the whole reply.
    pub fn list(&self, xml: &str, element: &str, columns: &[Column]) -> anyhow::Result<()> {
        self.print_xml(xml, |root| output::table(root.children(element), columns))
    }

    /// Prints one object: its attributes, then its template.
    pub fn show(&self, xml: &str) -> anyhow::Result<()> {
        self.print_xml(xml, output::show)
    }

    /// Prints one object: `human` renders it unless --json or --xml asked otherwise.
    pub fn show_with(
        &self,
        xml: &str,
        human: impl FnOnce(&Element) -> String,
    ) -> anyhow::Result<()> {
        self.print_xml(xml, human)
    }

    /// Reports the ids of new objects: one `ID: n` line each, or a JSON array of them.
    pub fn created_all(&self, ids: &[i32]) -> anyhow::Result<()> {
        match (ids, self.format) {
            ([one], _) => self.created(*one),
            (_, Format::Json) => {
                let all: Vec<_> = ids
                    .iter()
                    .map(|id| serde_json::json!({ "ID": id }))
                    .collect();
                emit(&serde_json::Value::from(all).to_string())
            }
            (_, Format::Human | Format::Xml) => {
                let lines: Vec<String> = ids.iter().map(|id| format!("ID: {id}")).collect();
                emit(&lines.join("\n"))
            }
        }
    }

    /// Reports the id of a new object.
    pub fn created(&self, id: i32) -> anyhow::Result<()> {
        match self.format {
            Format::Json => emit(&serde_json::json!({ "ID": id }).to_string()),
            Format::Human | Format::Xml => emit(&format!("ID: {id}")),
        }
    }

    /// Prints a plain string reply (a token, a version).
    pub fn text(&self, text: &str) -> anyhow::Result<()> {
        match self.format {
            Format::Json => emit(&serde_json::Value::from(text).to_string()),
            Format::Human | Format::Xml => emit(text),
        }
    }

    fn print_xml(&self, xml: &str, human: impl FnOnce(&Element) -> String) -> anyhow::Result<()> {
        if self.format == Format::Xml {
            return emit(xml);
        }
        let root = Element::parse(xml).map_err(ClientError::from)?;
        match self.format {
            Format::Json => emit(&serde_json::to_string_pretty(&output::json(&root))?),
            Format::Human | Format::Xml => emit(human(&root).trim_end()),
        }
    }
}

/// Writes `text` and a newline to stdout (a closed pipe is not an error worth a message).
pub fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to standard output"),
    }
}
