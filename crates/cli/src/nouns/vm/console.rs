//! Reaching a VM's consoles: `console` prints what its serial console printed (and with
//! `--follow` keeps printing), `vnc` says where its VNC server listens.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use nubo_client::nouns::Vm;
use nubo_client::xml::Element;

use crate::context::Ctx;

/// Consoles.
#[derive(Debug, Subcommand)]
pub enum Consoles {
    /// Print the VM's serial console output (from the host it runs on).
    Console {
        /// The VM's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// Keep printing what comes, until interrupted.
        #[arg(long, short)]
        follow: bool,
    },
    /// Print the address of the VM's VNC server (HOST:PORT).
    Vnc {
        /// The VM's id, or name.
        #[arg(value_name = "ID")]
        id: String,
    },
}

impl Consoles {
    /// Runs the command.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let vms = ctx.client.resource::<Vm>();
        match self {
            Consoles::Console { id, follow } => {
                let id = vms.id_of(&id)?;
                let mut offset = 0;
                let mut out = std::io::stdout().lock();
                loop {
                    let (data, next) = vms.console(id, offset)?;
                    out.write_all(&data)
                        .context("cannot write to standard output")?;
                    out.flush().context("cannot write to standard output")?;
                    if data.is_empty() {
                        if !follow {
                            return Ok(());
                        }
                        std::thread::sleep(Duration::from_millis(500));
                    }
                    offset = next;
                }
            }
            Consoles::Vnc { id } => {
                let id = vms.id_of(&id)?;
                let doc = Element::parse(&vms.info(id)?)?;
                let (host, port) = vnc_address(&doc).with_context(|| {
                    format!("VM {id} has no VNC console (GRAPHICS=[TYPE=\"VNC\"]) on a host")
                })?;
                println!("{host}:{port}");
                Ok(())
            }
        }
    }
}

/// The VNC address of a VM document: the host it runs on (or the GRAPHICS LISTEN address
/// when that is a specific one) and its port.
fn vnc_address(vm: &Element) -> Option<(String, String)> {
    let graphics = vm.find("TEMPLATE/GRAPHICS")?;
    if !graphics.text_of("TYPE")?.eq_ignore_ascii_case("vnc") {
        return None;
    }
    let port = graphics.text_of("PORT")?.to_string();
    let host = vm
        .find("HISTORY_RECORDS")?
        .children("HISTORY")
        .last()?
        .text_of("HOSTNAME")?
        .to_string();
    let listen = graphics.text_of("LISTEN").unwrap_or("0.0.0.0");
    let host = match listen {
        "0.0.0.0" | "::" | "" => host,
        specific => specific.to_string(),
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vnc_address_is_the_host_and_the_port() {
        let xml = "<VM><TEMPLATE><GRAPHICS><TYPE>VNC</TYPE><LISTEN>0.0.0.0</LISTEN><PORT>5907</PORT>\
                   </GRAPHICS></TEMPLATE><HISTORY_RECORDS><HISTORY><HOSTNAME>old</HOSTNAME></HISTORY>\
                   <HISTORY><HOSTNAME>node1</HOSTNAME></HISTORY></HISTORY_RECORDS></VM>";
        let doc = Element::parse(xml).expect("xml");
        assert_eq!(vnc_address(&doc), Some(("node1".into(), "5907".into())));
        let none = Element::parse("<VM><TEMPLATE/></VM>").expect("xml");
        assert_eq!(vnc_address(&none), None);
    }
}
