//! The scripts run by the host's `/bin/sh`: quoting reads back exactly (property tests), and
//! the build and launch scripts do what they say, with `/app` moved into a temporary
//! directory (the real builds in the stack are `tests/buildpacks.rs`).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Output, Stdio};

use proptest::prelude::*;

use super::*;
use crate::buildpack::{Language, Step};

/// Runs `script` with `/bin/sh -c`, its arguments after it.
fn sh(script: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(script).arg("sh").args(args);
    cmd.env_clear().env("PATH", "/usr/bin:/bin");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("ok")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn base64(text: &str) -> String {
    let mut child = Command::new("base64")
        .arg("-w0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ok");
    child
        .stdin
        .take()
        .expect("ok")
        .write_all(text.as_bytes())
        .expect("ok");
    String::from_utf8(child.wait_with_output().expect("ok").stdout).expect("ok")
}

fn test_plan(steps: &[(&str, &str)], types: &[(&str, &str)]) -> Plan {
    Plan {
        language: Language::Custom,
        steps: steps.iter().map(|(l, c)| Step::new(l, c)).collect(),
        path: vec!["/app/bin".to_owned(), "/app/odd dir".to_owned()],
        process_types: types
            .iter()
            .map(|(n, c)| (n.to_string(), c.to_string()))
            .collect(),
        from_procfile: true,
    }
}

/// Text with what shells treat specially, and anything else but NUL.
fn shell_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[-'\"$`\\\\\n\t !*?~#=;&|<>(){}\\[\\]a-c%@:,./]{0,24}",
        "[^\\x00]{0,24}",
        nubo_testkit::hostile_text().prop_map(|s| s.replace('\0', "")),
    ]
}

proptest! {
    #![proptest_config(nubo_testkit::cases(256))]

    #[test]
    fn quoted_words_read_back_exactly(s in shell_text()) {
        let out = sh(&format!("printf %s {}", shell_quote(&s)), &[], &[]);
        prop_assert!(out.status.success());
        prop_assert_eq!(String::from_utf8(out.stdout).expect("ok"), s);
    }

    #[test]
    fn env_files_export_exactly(values in proptest::collection::vec(shell_text(), 1..4)) {
        let config: BTreeMap<String, String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("V{i}"), v.clone()))
            .collect();
        // Sourced as the launch script does, then read by a child process.
        let script = format!(
            "{}exec /bin/sh -c 'for v in \"$@\"; do eval \"printf %s\\\\| \\\"\\${{$v}}\\\"\"; done' sh {}",
            env_file(&config),
            config.keys().cloned().collect::<Vec<_>>().join(" ")
        );
        let out = sh(&script, &[], &[]);
        prop_assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let expected: String = values.iter().map(|v| format!("{v}|")).collect();
        prop_assert_eq!(String::from_utf8(out.stdout).expect("ok"), expected);
    }
}

#[test]
fn quoting_examples() {
    assert_eq!(shell_quote(""), "''");
    assert_eq!(shell_quote("/app/.venv/bin"), "/app/.venv/bin");
    assert_eq!(shell_quote("a b"), "'a b'");
    assert_eq!(shell_quote("it's"), "'it'\\''s'");
    assert_eq!(shell_quote("$HOME"), "'$HOME'");
    assert_eq!(shell_quote("~"), "'~'");
}

#[test]
fn env_files_leave_out_what_cannot_be_exported() {
    let config = BTreeMap::from([
        ("GOOD".to_owned(), "x".to_owned()),
        ("1BAD".to_owned(), "x".to_owned()),
        ("A-B".to_owned(), "x".to_owned()),
        ("X;rm -rf /".to_owned(), "x".to_owned()),
        ("NUL".to_owned(), "a\0b".to_owned()),
    ]);
    assert_eq!(env_file(&config), "export GOOD=x\n");
}

/// A launch script run by the host's sh with `/app` being `dir`.
fn launch(plan: &Plan, dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let script = launch_script(plan).replace("cd /app\n", &format!("cd {}\n", dir.display()));
    sh(&script, args, env)
}

#[test]
fn launch_runs_the_type_with_config_and_path() {
    let dir = tempfile::tempdir().expect("ok");
    let plan = test_plan(
        &[],
        &[
            (
                "web",
                "printf '%s|%s|%s|%s' \"$PORT\" \"$GREETING\" \"$PWD\" \"$PATH\"",
            ),
            ("worker", "echo working; exit 3"),
        ],
    );
    let greeting = "it's \"$x\" `date` \\n\nline 2";
    let env = env_file(&BTreeMap::from([(
        "GREETING".to_owned(),
        greeting.to_owned(),
    )]));
    let out = launch(
        &plan,
        dir.path(),
        &["web"],
        &[("PORT", "5000"), ("NUBO_ENV", &base64(&env))],
    );
    assert!(out.status.success(), "{out:?}");
    let fields: Vec<String> = stdout(&out).split('|').map(str::to_owned).collect();
    assert_eq!(fields[0], "5000");
    assert_eq!(fields[1], greeting);
    assert_eq!(fields[2], dir.path().to_str().expect("ok"));
    assert_eq!(fields[3], "/app/bin:/app/odd dir:/usr/bin:/bin");

    let out = launch(&plan, dir.path(), &["worker"], &[]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout(&out), "working\n");

    for bad in [&["clock"][..], &[], &["web;id"]] {
        let out = launch(&plan, dir.path(), bad, &[]);
        assert_eq!(out.status.code(), Some(127), "{bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("unknown process type"), "{err}");
        assert!(err.contains("web, worker"), "{err}");
    }
    let out = launch(
        &plan,
        dir.path(),
        &["web"],
        &[("NUBO_ENV", "!!not base64!!")],
    );
    assert_eq!(out.status.code(), Some(1));
}

/// A build script run by the host's sh with `/app` being `dir`.
fn build(plan: &Plan, settings: &BuildSettings, dir: &std::path::Path) -> Output {
    let script = build_script(plan, settings).replace("/app", dir.to_str().expect("ok"));
    std::fs::create_dir_all(dir.join(".nubo")).expect("ok");
    std::fs::write(dir.join(".nubo/build"), &script).expect("ok");
    let out = Command::new("/bin/sh")
        .arg(dir.join(".nubo/build"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("ok");
    assert!(
        !dir.join(".nubo/build").exists(),
        "the build script removes itself"
    );
    out
}

fn settings() -> BuildSettings {
    BuildSettings {
        config: BTreeMap::from([("SECRET".to_owned(), "a 'b' $c".to_owned())]),
        ca_file: Some("/app/.nubo/ca.crt".to_owned()),
        pip_config: Some("/app/.nubo/pip.conf".to_owned()),
        npm_config: Some("/app/.nubo/npmrc".to_owned()),
    }
}

#[test]
fn a_build_runs_its_steps_and_writes_the_launch_script() {
    let dir = tempfile::tempdir().expect("ok");
    for f in ["ca.crt", "pip.conf", "npmrc"] {
        std::fs::create_dir_all(dir.path().join(".nubo")).expect("ok");
        std::fs::write(dir.path().join(".nubo").join(f), "x").expect("ok");
    }
    let plan = test_plan(
        &[
            ("Writing a file", "echo \"$SECRET\" > out.txt\ncd /"),
            (
                "Checking the environment",
                "[ \"$PWD\" = /app ] && [ \"$SSL_CERT_FILE\" = /app/.nubo/ca.crt ] && \
                 [ \"$PIP_CONFIG_FILE\" = /app/.nubo/pip.conf ] && \
                 [ \"$NPM_CONFIG_USERCONFIG\" = /app/.nubo/npmrc ] && \
                 [ \"$NODE_EXTRA_CA_CERTS\" = /app/.nubo/ca.crt ] && \
                 [ \"$NPM_CONFIG_CAFILE\" = /app/.nubo/ca.crt ]",
            ),
        ],
        &[("web", "true")],
    );
    let out = build(&plan, &settings(), dir.path());
    let log = stdout(&out);
    assert!(
        out.status.success(),
        "{log}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(log.contains("-----> bin/build app detected\n"), "{log}");
    assert!(log.contains("-----> Writing a file\n"), "{log}");
    assert!(log.contains("-----> Checking the environment\n"), "{log}");
    assert!(log.contains("Procfile declares types -> web\n"), "{log}");
    assert!(log.ends_with("nubo-build: succeeded\n"), "{log}");
    let written = std::fs::read_to_string(dir.path().join("out.txt")).expect("ok");
    assert_eq!(written, "a 'b' $c\n");
    let launch = std::fs::read_to_string(dir.path().join(".nubo/launch")).expect("ok");
    assert_eq!(
        launch,
        launch_script(&plan).replace("/app", dir.path().to_str().expect("ok"))
    );
    let left: Vec<_> = std::fs::read_dir(dir.path().join(".nubo"))
        .expect("ok")
        .map(|e| e.expect("ok").file_name())
        .collect();
    assert_eq!(left, ["launch"], "build-only files are removed");
}

#[test]
fn a_failing_step_fails_the_build_and_names_it() {
    let dir = tempfile::tempdir().expect("ok");
    std::fs::create_dir_all(dir.path().join(".nubo")).expect("ok");
    std::fs::write(dir.path().join(".nubo/ca.crt"), "x").expect("ok");
    let plan = test_plan(
        &[
            ("First", "true"),
            ("Breaking", "false\necho not reached"),
            ("Never", "touch never"),
        ],
        &[("web", "true")],
    );
    // Config vars cannot change the script's own variables.
    let mut settings = settings();
    for name in ["nubo_done", "nubo_step", "nubo_status"] {
        settings.config.insert(name.to_owned(), "yes".to_owned());
    }
    let out = build(&plan, &settings, dir.path());
    let log = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.ends_with("nubo-build: failed: Breaking\n"), "{log}");
    assert!(
        log.contains("       $ false\n         echo not reached\n"),
        "{log}"
    );
    assert!(!log.contains("\nnot reached\n"), "{log}");
    assert!(!dir.path().join("never").exists());
    assert!(!dir.path().join(".nubo/launch").exists());
    assert!(!dir.path().join(".nubo/ca.crt").exists());

    // An unset variable is a failure too (set -u), with the step's own status.
    let plan = test_plan(&[("Using a variable", "echo \"$NOT_SET_ANYWHERE\"")], &[]);
    let out = build(&plan, &BuildSettings::default(), dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stdout(&out).ends_with("nubo-build: failed: Using a variable\n"));
}

#[test]
fn scripts_are_valid_sh() {
    let plan = test_plan(&[("x", "echo 'a'\necho b")], &[("web", "it's $PORT")]);
    for script in [launch_script(&plan), build_script(&plan, &settings())] {
        let mut child = Command::new("/bin/sh")
            .arg("-n")
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ok");
        child
            .stdin
            .take()
            .expect("ok")
            .write_all(script.as_bytes())
            .expect("ok");
        let out = child.wait_with_output().expect("ok");
        assert!(out.status.success(), "{script}\n{out:?}");
    }
}

#[test]
fn launch_runs_one_off_commands_and_says_how_they_ended() {
    let dir = tempfile::tempdir().expect("ok");
    let plan = test_plan(&[], &[("web", "true")]);
    let env = env_file(&BTreeMap::from([("GREETING".to_owned(), "hi".to_owned())]));
    let command = "echo \"$GREETING from $(basename \"$PWD\")\"; echo oops >&2; exit 4";
    let out = launch(
        &plan,
        dir.path(),
        &["--run"],
        &[("NUBO_ENV", &base64(&env)), ("NUBO_RUN", &base64(command))],
    );
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let name = dir
        .path()
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert_eq!(stdout(&out), format!("hi from {name}\nnubo-run: exit 4\n"));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
    let out = launch(&plan, dir.path(), &["--run"], &[("NUBO_RUN", "!!")]);
    assert_eq!(out.status.code(), Some(1));
}
