//! `nubo vm exec VM -- CMD…`: runs a command in a running VM with `one.vm.exec`
//! (OpenNebula 7.4), waits for the result the host reports into the VM's QEMU_GA_EXEC,
//! prints its standard output and error, and exits with its exit code.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine;
use clap::Args;
use nubo_client::Value;
use nubo_client::nouns::Vm;

use crate::context::Ctx;
use crate::exit::{GuestExit, usage_error};

/// `vm exec` arguments.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The VM's id, or name.
    #[arg(value_name = "ID")]
    id: String,
    /// Feed this file to the command's standard input (- reads this command's own).
    #[arg(long, value_name = "FILE")]
    stdin: Option<String>,
    /// Seconds to wait for the command to end.
    #[arg(long, default_value = "60")]
    timeout: u64,
    /// The command and its arguments (after --).
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

/// The most standard input sent (the server takes 1 MiB of base64).
const STDIN_LIMIT: u64 = 768 * 1024;

impl ExecArgs {
    /// Runs the command.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let vms = ctx.client.resource::<Vm>();
        let id = vms.id_of(&self.id)?;
        let input = match self.stdin.as_deref() {
            None => Vec::new(),
            Some(path) => read_input(path)?,
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        let command = shell_words::join(&self.command);
        vms.call_id(
            "exec",
            vec![
                Value::Int(id),
                Value::String(command),
                Value::String(b64.encode(&input)),
            ],
        )?;
        let deadline = Instant::now() + Duration::from_secs(self.timeout);
        loop {
            let doc = vms.info_tree(id)?;
            let status = doc.text_of("TEMPLATE/QEMU_GA_EXEC/STATUS").unwrap_or("");
            match status {
                "DONE" | "CANCELLED" => {
                    let decode = |path: &str| {
                        b64.decode(doc.text_of(path).unwrap_or("").trim())
                            .unwrap_or_default()
                    };
                    std::io::stdout()
                        .write_all(&decode("TEMPLATE/QEMU_GA_EXEC/STDOUT"))
                        .context("cannot write to standard output")?;
                    std::io::stderr()
                        .write_all(&decode("TEMPLATE/QEMU_GA_EXEC/STDERR"))
                        .context("cannot write to standard error")?;
                    if status == "CANCELLED" {
                        anyhow::bail!("the command was cancelled");
                    }
                    let code: i32 = doc
                        .text_of("TEMPLATE/QEMU_GA_EXEC/RETURN_CODE")
                        .and_then(|c| c.trim().parse().ok())
                        .unwrap_or(-1);
                    return if code == 0 {
                        Ok(())
                    } else {
                        Err(GuestExit(code).into())
                    };
                }
                "ERROR" => {
                    let why = doc
                        .text_of("USER_TEMPLATE/ERROR")
                        .unwrap_or("see the VM's log");
                    anyhow::bail!("the command could not be started: {why}");
                }
                _ => {}
            }
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "the command did not end within {} s (nubo vm show {id} shows it later)",
                    self.timeout
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn read_input(path: &str) -> anyhow::Result<Vec<u8>> {
    let mut data = Vec::new();
    let read = if path == "-" {
        std::io::stdin()
            .lock()
            .take(STDIN_LIMIT + 1)
            .read_to_end(&mut data)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(STDIN_LIMIT + 1).read_to_end(&mut data))
    };
    read.with_context(|| format!("cannot read {path}"))?;
    if data.len() as u64 > STDIN_LIMIT {
        return Err(usage_error(format!(
            "the standard input is larger than {STDIN_LIMIT} bytes"
        )));
    }
    Ok(data)
}
