//! The nubod under test (`--local-host --api --router`), and what it leaves on the host.

use super::*;

/// nubod with `--local-host --api --router`; dropping it terminates every VM, then stops
/// nubod with SIGTERM (it stops its agents).
pub(crate) struct Daemon {
    pub(crate) child: Child,
    pub(crate) data: PathBuf,
    pub(crate) xmlrpc: String,
    pub(crate) api: String,
    pub(crate) router: SocketAddr,
    pub(crate) password: String,
}

impl Daemon {
    pub(crate) fn start(args: &Args, work: &Path, stack: &Path) -> Result<Daemon> {
        let data = work.join("data");
        let config = work.join("nubod.toml");
        // The containers' host only: no QEMU agent beside it.
        std::fs::write(&config, "[local_host]\nkvm = false\n")?;
        let (xmlrpc, host_api, api, router) =
            (free_port()?, free_port()?, free_port()?, free_port()?);
        let password = "bench-password".to_string();
        let log = std::fs::File::create(work.join("nubod.log"))?;
        let child = Command::new(&args.nubod)
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .args(["--xmlrpc", &format!("127.0.0.1:{xmlrpc}")])
            .args(["--host-api", &format!("127.0.0.1:{host_api}")])
            .args(["--api", &format!("127.0.0.1:{api}")])
            .args(["--router", &format!("127.0.0.1:{router}")])
            .arg("--local-host")
            .arg("--stack")
            .arg(stack)
            .args(["--log-level", "warn"])
            .env("NUBO_ADMIN_PASSWORD", &password)
            .env("HOME", work)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", args.nubod.display()))?;
        let daemon = Daemon {
            child,
            data,
            xmlrpc: format!("http://127.0.0.1:{xmlrpc}/RPC2"),
            api: format!("127.0.0.1:{api}"),
            router: SocketAddr::from(([127, 0, 0, 1], router)),
            password,
        };
        let client = daemon.client();
        wait_every(Duration::from_secs(60), "nubod answering", || {
            Ok(client.version().is_ok())
        })?;
        Ok(daemon)
    }

    pub(crate) fn client(&self) -> Client {
        Client::new(&self.xmlrpc, &format!("oneadmin:{}", self.password))
    }

    pub(crate) fn rest(&self) -> Rest {
        Rest {
            addr: self.api.clone(),
            auth: format!("Basic {}", base64(&format!("oneadmin:{}", self.password))),
        }
    }

    /// The local container host's agent log.
    pub(crate) fn agent_log(&self) -> PathBuf {
        self.data.join("local-hosts").join("local-lxc.log")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let client = self.client();
        if let Ok(ids) = pool_vms(&client) {
            for (id, _, _) in &ids {
                let _ = client.call(
                    "one.vm.action",
                    vec![Value::from("terminate-hard"), Value::Int(*id)],
                );
            }
            let _ = wait_every(Duration::from_secs(120), "every VM DONE", || {
                Ok(pool_vms(&client)?.is_empty())
            });
        }
        let _ = sh(&format!("kill -TERM {}", self.child.id()));
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The VMs that are not DONE: id, name, LCM_STATE.
pub(crate) fn pool_vms(client: &Client) -> Result<Vec<(i32, String, i32)>> {
    let xml = client.call_string(
        "one.vmpool.info",
        vec![
            Value::Int(-2),
            Value::Int(-1),
            Value::Int(-1),
            Value::Int(-1),
        ],
    )?;
    Ok(xml
        .split("<VM>")
        .skip(1)
        .filter_map(|vm| {
            let id = between(vm, "<ID>", "<")?.parse().ok()?;
            let name = between(vm, "<NAME>", "<")?.to_string();
            let lcm = between(vm, "<LCM_STATE>", "<")?.parse().ok()?;
            Some((id, name, lcm))
        })
        .collect())
}

pub(crate) fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    Some(&text[from..from + text[from..].find(end)?])
}

/// Pids of nubods running with `--local-host`.
pub(crate) fn other_local_hosts() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let argv: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        (argv.first()?.ends_with(b"nubod") && argv.iter().any(|a| *a == b"--local-host"))
            .then_some(pid)
    })
    .collect()
}

pub(crate) fn bridge_exists() -> bool {
    Path::new("/sys/class/net").join(APPS_BRIDGE).exists()
}

pub(crate) fn bridge_in_use() -> bool {
    bridge_exists()
        && sh(&format!("ip -o link show master {APPS_BRIDGE}")).is_ok_and(|o| !o.trim().is_empty())
}

pub(crate) fn nat_table_exists() -> bool {
    sh(&format!("nft list table ip {NAT_TABLE}")).is_ok()
}
