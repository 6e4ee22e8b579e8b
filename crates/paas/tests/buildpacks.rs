//! Real builds of the fixture apps under `tests/apps/` in Nubo's Debian stack
//! (`target/stack/debian-12.raw`, made by `scripts/build-stack.sh`): each app is copied to a
//! temporary directory, detected, given its build script and the host's CA bundle (the host
//! reaches PyPI and npm through a TLS-intercepting proxy only that bundle trusts), and built
//! by the stack's `/bin/sh` under `chroot`, with the stack loop-mounted read-only under an
//! overlay and the app bind-mounted at `/app`. Web apps are then started with the launch
//! script and must answer HTTP on `$PORT`.
//!
//! `chroot` is only this harness: the scripts do not know it (in production they run in a
//! runc container). The tests skip, saying why, when not root or when the stack is missing
//! (unless `NUBO_REQUIRE_GUESTS=1`); every mount and process is undone by guards, also when
//! a test fails.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nubo_paas::buildpack::{
    BUILD_SCRIPT_PATH, BuildSettings, Language, build_script, detect, env_file,
};

/// A config var with what shells treat specially, given to builds and instances.
const GREETING: &str = "it's \"quoted\" $HOME `x` \\ ok";
/// The longest a build may take here (pip and npm over the network).
const BUILD_TIMEOUT_S: u32 = 600;

fn stack_image() -> PathBuf {
    match std::env::var_os("NUBO_TEST_STACK") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/stack/debian-12.raw"),
    }
}

/// Why these tests cannot run here, if they cannot.
fn skip_reason() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        == Some("0");
    if !root {
        return Some("not root (chroot and mounts need it)".to_owned());
    }
    let image = stack_image();
    if !image.is_file() {
        let reason = format!(
            "no stack image at {} (build it with scripts/build-stack.sh, as root)",
            image.display()
        );
        assert!(
            std::env::var("NUBO_REQUIRE_GUESTS").as_deref() != Ok("1"),
            "NUBO_REQUIRE_GUESTS=1 but {reason}"
        );
        return Some(reason);
    }
    None
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run a command");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Mount points, unmounted last first when dropped (lazily when something still holds one).
#[derive(Debug, Default)]
struct Mounts(Vec<PathBuf>);

impl Mounts {
    fn mount(&mut self, args: &[&str], target: &Path) {
        run(Command::new("mount").args(args).arg(target));
        self.0.push(target.to_owned());
    }
}

impl Drop for Mounts {
    fn drop(&mut self) {
        for target in self.0.iter().rev() {
            let ok = Command::new("umount")
                .arg(target)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                let _ = Command::new("umount").arg("-l").arg(target).status();
            }
        }
    }
}

/// The stack, read-only, under an overlay of its own, with an app at `/app`.
#[derive(Debug)]
struct Sandbox {
    // Dropped first: nothing stays mounted in the directory removed next.
    _mounts: Mounts,
    tmp: tempfile::TempDir,
    root: PathBuf,
    app: PathBuf,
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("fixture entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy"); // keeps the mode
        }
    }
}

impl Sandbox {
    /// `tests/apps/<fixture>` copied, with the host's CA bundle at `/app/.nubo/ca.crt`.
    fn new(fixture: &str) -> Sandbox {
        let tmp = tempfile::tempdir().expect("tempdir");
        let app = tmp.path().join("app");
        copy_tree(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/apps")
                .join(fixture),
            &app,
        );
        std::fs::create_dir_all(app.join(".nubo")).expect("mkdir .nubo");
        std::fs::copy(
            "/etc/ssl/certs/ca-certificates.crt",
            app.join(".nubo/ca.crt"),
        )
        .expect("the host's CA bundle");

        let mut mounts = Mounts::default();
        let dir = |name: &str| {
            let path = tmp.path().join(name);
            std::fs::create_dir_all(&path).expect("mkdir");
            path
        };
        let (lower, upper, work, root) = (dir("lower"), dir("upper"), dir("work"), dir("root"));
        let image = stack_image();
        mounts.mount(
            &["-o", "loop,ro", image.to_str().expect("utf-8 path")],
            &lower,
        );
        let options = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            upper.display(),
            work.display()
        );
        mounts.mount(&["-t", "overlay", "overlay", "-o", &options], &root);
        std::fs::create_dir_all(root.join("app")).expect("mkdir /app");
        mounts.mount(
            &["--bind", app.to_str().expect("utf-8 path")],
            &root.join("app"),
        );
        mounts.mount(&["-t", "proc", "proc"], &root.join("proc"));
        let dev = root.join("dev");
        mounts.mount(&["-t", "tmpfs", "-o", "mode=755,size=1m", "tmpfs"], &dev);
        for node in ["null", "zero", "full", "random", "urandom", "tty"] {
            std::fs::write(dev.join(node), "").expect("device placeholder");
            mounts.mount(&["--bind", &format!("/dev/{node}")], &dev.join(node));
        }
        for (link, to) in [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
        ] {
            std::os::unix::fs::symlink(to, dev.join(link)).expect("dev symlink");
        }
        std::fs::create_dir_all(dev.join("shm")).expect("mkdir /dev/shm");
        let resolv = std::fs::read("/etc/resolv.conf").expect("the host's resolv.conf");
        std::fs::write(root.join("etc/resolv.conf"), resolv).expect("resolv.conf");
        Sandbox {
            _mounts: mounts,
            tmp,
            root,
            app,
        }
    }

    /// A command run in the stack with only `env` (and a plain PATH and HOME).
    fn command(&self, env: &[(&str, &str)], args: &[&str]) -> Command {
        let mut cmd = Command::new("timeout");
        cmd.args(["--kill-after=10", &BUILD_TIMEOUT_S.to_string(), "chroot"])
            .arg(&self.root)
            .args([
                "/usr/bin/env",
                "-i",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME=/root",
            ])
            .args(env.iter().map(|(k, v)| format!("{k}={v}")))
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Detects the app, writes its build script and runs it: the plan, the log (stdout
    /// then stderr) and whether it succeeded.
    fn build(&self) -> (nubo_paas::buildpack::Plan, String, bool) {
        let plan = detect(&self.app).expect("detect");
        let settings = BuildSettings {
            config: config(),
            ca_file: Some("/app/.nubo/ca.crt".to_owned()),
            pip_config: None,
            npm_config: None,
        };
        let script = build_script(&plan, &settings);
        let path = self.app.join(BUILD_SCRIPT_PATH.trim_start_matches("/app/"));
        std::fs::write(&path, script).expect("write the build script");
        let started = Instant::now();
        let out = self
            .command(&[], &["/bin/sh", BUILD_SCRIPT_PATH])
            .output()
            .expect("run the build");
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        println!(
            "build of {} ({}) in {:.1}s, {}:\n{log}",
            self.app.display(),
            plan.language,
            started.elapsed().as_secs_f64(),
            out.status
        );
        let ok = out.status.success()
            && String::from_utf8_lossy(&out.stdout).ends_with("nubo-build: succeeded\n");
        (plan, log, ok)
    }

    /// Makes `/app` read-only, as a slug is to the instances that mount it.
    fn freeze_app(&self) {
        run(Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(self.root.join("app")));
    }

    /// Starts `/bin/sh /app/.nubo/launch <kind>` with a free PORT and the config vars.
    fn launch(&self, kind: &str) -> (Instance, u16) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = std::fs::File::create(self.tmp.path().join(format!("{kind}.log")))
            .expect("instance log");
        let child = self
            .command(
                &[("PORT", &port.to_string()), ("NUBO_ENV", &nubo_env())],
                &["/bin/sh", "/app/.nubo/launch", kind],
            )
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("launch");
        (Instance(child), port)
    }

    /// Runs the launch script for `kind` to its end.
    fn launch_once(&self, kind: &str) -> Output {
        self.command(
            &[("NUBO_ENV", &nubo_env())],
            &["/bin/sh", "/app/.nubo/launch", kind],
        )
        .output()
        .expect("launch")
    }

    /// What is left in `/app/.nubo` after a build.
    fn nubo_dir(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.app.join(".nubo"))
            .expect("read .nubo")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// A running instance: its process group is killed when dropped.
#[derive(Debug)]
struct Instance(Child);

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

fn config() -> BTreeMap<String, String> {
    BTreeMap::from([("GREETING".to_owned(), GREETING.to_owned())])
}

/// `NUBO_ENV`: base64 of the config vars' env file.
fn nubo_env() -> String {
    let mut child = Command::new("base64")
        .arg("-w0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("base64");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(env_file(&config()).as_bytes())
        .expect("write");
    String::from_utf8(child.wait_with_output().expect("base64").stdout).expect("ascii")
}

/// The body of `GET /` on `port`, once it answers 200 (within a minute).
fn http_get(port: u16, instance: &mut Instance) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = instance.0.try_wait() {
            panic!("the instance ended before serving: {status}");
        }
        if let Ok(mut conn) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
            let mut reply = Vec::new();
            if conn
                .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
                .and_then(|()| conn.read_to_end(&mut reply))
                .is_ok()
            {
                let reply = String::from_utf8_lossy(&reply).into_owned();
                if reply.starts_with("HTTP/1.") && reply.contains(" 200 ") {
                    return reply;
                }
            }
        }
        assert!(Instant::now() < deadline, "nothing served on port {port}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

macro_rules! sandbox_or_skip {
    ($fixture:expr) => {{
        if let Some(reason) = skip_reason() {
            println!("skipped: {reason}");
            return;
        }
        Sandbox::new($fixture)
    }};
}

#[test]
fn python_web_app() {
    let sb = sandbox_or_skip!("python-web");
    let (plan, log, ok) = sb.build();
    assert!(ok, "{log}");
    assert_eq!(plan.language, Language::Python);
    assert!(
        log.contains("-----> Installing requirements.txt with pip"),
        "{log}"
    );
    let site = sb.app.join(".venv/lib/python3.11/site-packages/six.py");
    assert!(site.is_file(), "six is not installed in /app/.venv: {log}");
    assert_eq!(sb.nubo_dir(), ["launch"], "build-only files are removed");
    sb.freeze_app();
    let (mut web, port) = sb.launch("web");
    let page = http_get(port, &mut web);
    assert!(page.contains("hello from python, six 1.16.0"), "{page}");
    assert!(page.contains(&format!("GREETING={GREETING}\n")), "{page}");
}

#[test]
fn python_app_without_packages() {
    let sb = sandbox_or_skip!("python-stdlib");
    let (plan, log, ok) = sb.build();
    assert!(ok, "{log}");
    assert_eq!(plan.language, Language::Python);
    assert!(
        log.contains("-----> requirements.txt lists no packages"),
        "{log}"
    );
    assert!(!log.contains("pip install"), "{log}");
    assert!(
        !sb.app.join(".venv").exists(),
        "a virtualenv was made: {log}"
    );
    assert_eq!(sb.nubo_dir(), ["launch"], "build-only files are removed");
    sb.freeze_app();
    let (mut web, port) = sb.launch("web");
    let page = http_get(port, &mut web);
    assert!(
        page.contains("hello from the stdlib, python /usr/bin/python3,"),
        "{page}"
    );
    assert!(page.contains(&format!("GREETING={GREETING}\n")), "{page}");
}

#[test]
fn python_pyproject_app() {
    let sb = sandbox_or_skip!("python-pyproject");
    let (plan, log, ok) = sb.build();
    assert!(ok, "{log}");
    assert_eq!(plan.process_types["web"], "python3 main.py");
    assert!(
        log.contains("-----> Installing the project (pyproject.toml) with pip"),
        "{log}"
    );
    let site = sb.app.join(".venv/lib/python3.11/site-packages");
    assert!(site.join("six.py").is_file(), "six is not installed: {log}");
    assert!(
        site.join("main.py").is_file(),
        "the project is not installed: {log}"
    );
    sb.freeze_app();
    let (mut web, port) = sb.launch("web");
    let page = http_get(port, &mut web);
    assert!(page.contains("hello from pyproject, six 1.16.0"), "{page}");
}

#[test]
fn node_web_app() {
    let sb = sandbox_or_skip!("node-web");
    let (plan, log, ok) = sb.build();
    assert!(ok, "{log}");
    assert_eq!(plan.language, Language::Node);
    assert!(
        log.contains("-----> Installing dependencies with npm ci"),
        "{log}"
    );
    assert!(log.contains("-----> Running npm run build"), "{log}");
    assert!(
        sb.app.join("node_modules/is-number/package.json").is_file(),
        "is-number is not installed in /app/node_modules: {log}"
    );
    sb.freeze_app();
    let (mut web, port) = sb.launch("web");
    let page = http_get(port, &mut web);
    assert!(
        page.contains("hello from node, built: is-number(42) is true, x is no number"),
        "{page}"
    );
    assert!(page.contains(&format!("GREETING={GREETING}\n")), "{page}");
}

#[test]
fn static_site() {
    let sb = sandbox_or_skip!("static-site");
    let (plan, log, ok) = sb.build();
    assert!(ok, "{log}");
    assert_eq!(plan.language, Language::Static);
    assert!(log.contains("Default types for static -> web"), "{log}");
    sb.freeze_app();
    let (mut web, port) = sb.launch("web");
    let page = http_get(port, &mut web);
    assert!(page.contains("<p>hello from a static site</p>"), "{page}");
}

#[test]
fn procfile_worker_app() {
    let sb = sandbox_or_skip!("procfile-worker");
    let (plan, log, ok) = sb.build();
    assert!(ok, "{log}");
    assert!(log.contains("Procfile declares types -> worker"), "{log}");
    assert_eq!(plan.process_types.keys().collect::<Vec<_>>(), ["worker"]);
    sb.freeze_app();
    let out = sb.launch_once("worker");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        said,
        format!("worker: round done, args=['--once'], GREETING={GREETING}\n")
    );
    let out = sb.launch_once("web");
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown process type 'web'"), "{err}");
}

#[test]
fn custom_bin_build_app() {
    let sb = sandbox_or_skip!("custom-build");
    let (plan, log, ok) = sb.build();
    assert!(ok, "{log}");
    assert_eq!(plan.language, Language::Custom);
    assert!(log.contains("bin/build: wrote public/index.html"), "{log}");
    assert!(!sb.app.join("node_modules").exists(), "npm ran: {log}");
    sb.freeze_app();
    let (mut web, port) = sb.launch("web");
    let page = http_get(port, &mut web);
    assert!(
        page.contains(&format!("<p>hello from bin/build, GREETING={GREETING}</p>")),
        "{page}"
    );
}

#[test]
fn a_missing_package_fails_the_build() {
    let sb = sandbox_or_skip!("python-missing");
    let (_, log, ok) = sb.build();
    assert!(!ok, "{log}");
    assert!(
        log.contains("nubo-build: failed: Installing requirements.txt with pip\n"),
        "{log}"
    );
    assert!(!log.contains("nubo-build: succeeded"), "{log}");
    assert!(
        sb.nubo_dir().is_empty(),
        "build-only files are removed and no launch script is written"
    );
}
