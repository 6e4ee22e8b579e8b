//! The scripts a [`Plan`] becomes: the build script a build container runs in `/app`, and the
//! launch script it leaves in the slug for app instances. Both are POSIX sh for the stack,
//! and every value they carry (config vars, paths, commands) is written with
//! [`shell_quote`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::Plan;

/// The platform's directory in `/app`: build inputs (removed by the build) and the launch
/// script (kept in the slug).
pub const NUBO_DIR: &str = "/app/.nubo";
/// Where the PaaS writes the build script, run as `/bin/sh /app/.nubo/build`; the build
/// removes it (it holds the app's config vars) when it ends.
pub const BUILD_SCRIPT_PATH: &str = "/app/.nubo/build";
/// Where the build writes the launch script, run as `/bin/sh /app/.nubo/launch <type>`.
pub const LAUNCH_SCRIPT_PATH: &str = "/app/.nubo/launch";
/// What the launch script's last line of a one-off command (`--run`) starts with; its exit
/// status follows (`nubo-run: exit 3`).
pub const RUN_EXIT_LINE: &str = "nubo-run: exit ";

/// `PATH` when the environment has none: Debian's default for root.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What a build needs besides its plan: all paths are inside the build container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildSettings {
    /// The app's config vars, exported to the build as Heroku does.
    pub config: BTreeMap<String, String>,
    /// A CA bundle (PEM) that TLS clients of the build trust instead of the stack's
    /// (`SSL_CERT_FILE`, `PIP_CERT`, `REQUESTS_CA_BUNDLE`) or in addition to node's
    /// (`NODE_EXTRA_CA_CERTS`), and npm's `cafile` (`NPM_CONFIG_CAFILE`), e.g.
    /// `/app/.nubo/ca.crt`: give a whole bundle.
    pub ca_file: Option<String>,
    /// A pip configuration file (`PIP_CONFIG_FILE`), e.g. `/app/.nubo/pip.conf`.
    pub pip_config: Option<String>,
    /// An npm user configuration file (`NPM_CONFIG_USERCONFIG`), e.g. `/app/.nubo/npmrc`.
    pub npm_config: Option<String>,
}

/// `s` as one shell word that every POSIX shell reads back as exactly `s`: as it is when it
/// holds only `A-Za-z0-9_@%+=:,./-`, else in single quotes with each `'` written `'\''`.
/// (A NUL cannot be in a shell word at all; it would end the string there.)
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'_' | b'@' | b'%' | b'+' | b'=' | b':' | b',' | b'.' | b'/' | b'-'
                )
        });
    if plain {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Whether `name` can be a shell variable and environment variable name.
fn env_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Config vars as `export NAME='value'` lines, the file that instances get base64-encoded in
/// `NUBO_ENV` and the build script embeds. Names that are not environment variable names and
/// values holding NUL (neither can reach a process; the PaaS refuses both when they are set)
/// are left out.
pub fn env_file(config: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for (name, value) in config {
        if env_name(name) && !value.contains('\0') {
            let _ = writeln!(out, "export {name}={}", shell_quote(value));
        }
    }
    out
}

/// `export PATH=<the plan's directories>:"${PATH:-default}"`.
fn path_line(plan: &Plan) -> String {
    let mut line = String::from("export PATH=");
    for dir in &plan.path {
        line.push_str(&shell_quote(dir));
        line.push(':');
    }
    let _ = writeln!(line, "\"${{PATH:-{DEFAULT_PATH}}}\"");
    line
}

/// The launch script for `plan`'s slug, run by instances as
/// `/bin/sh /app/.nubo/launch <process-type>` with `PORT` and `NUBO_ENV` in the environment:
/// it goes to `/app`, exports the config vars of `NUBO_ENV` (base64 of an [`env_file`]), puts
/// the plan's directories in front of `PATH`, and replaces itself with
/// `/bin/sh -c '<the type's command>'`. An unknown type exits 127 saying which types exist.
pub fn launch_script(plan: &Plan) -> String {
    let mut s = String::from(
        "#!/bin/sh\n\
         # Nubo launch script, written by the build (nubo-paas buildpack): runs one process\n\
         # type of this slug as /bin/sh /app/.nubo/launch <process-type>, with the app's\n\
         # config vars from NUBO_ENV (base64 of `export NAME='value'` lines) and PORT.\n\
         set -eu\n\
         cd /app\n\
         if [ -n \"${NUBO_ENV:-}\" ]; then\n  \
           if ! nubo_env=$(printf '%s' \"$NUBO_ENV\" | base64 -d); then\n    \
             echo 'nubo-launch: NUBO_ENV is not base64' >&2\n    \
             exit 1\n  \
           fi\n  \
           unset NUBO_ENV\n  \
           eval \"$nubo_env\"\n  \
           unset nubo_env\n\
         fi\n",
    );
    s.push_str(&path_line(plan));
    s.push_str("export HOME=\"${HOME:-/app}\"\n");
    // A one-off command (`--run`, which no process type can be called): the command comes
    // base64 in NUBO_RUN; its exit status is printed last, for the platform to read.
    s.push_str(
        "if [ \"${1:-}\" = --run ]; then\n  \
           if ! nubo_run=$(printf '%s' \"${NUBO_RUN:-}\" | base64 -d); then\n    \
             echo 'nubo-launch: NUBO_RUN is not base64' >&2\n    \
             exit 1\n  \
           fi\n  \
           unset NUBO_RUN\n  \
           set +e\n  \
           /bin/sh -c \"$nubo_run\"\n  \
           nubo_status=$?\n  \
           echo \"nubo-run: exit $nubo_status\"\n  \
           exit $nubo_status\n\
         fi\n",
    );
    s.push_str("nubo_type=${1:-}\ncase $nubo_type in\n");
    for (name, command) in &plan.process_types {
        let _ = writeln!(
            s,
            "  {}) exec /bin/sh -c {} ;;",
            shell_quote(name),
            shell_quote(command)
        );
    }
    let names: Vec<&str> = plan.process_types.keys().map(String::as_str).collect();
    let known = if names.is_empty() {
        "this slug declares no process types".to_owned()
    } else {
        format!("this slug declares: {}", names.join(", "))
    };
    let _ = write!(
        s,
        "  *)\n    \
             printf 'nubo-launch: unknown process type %s; %s\\n' \"'$nubo_type'\" {} >&2\n    \
             exit 127 ;;\n\
         esac\n",
        shell_quote(&known)
    );
    s
}

/// The build script for `plan`, run by the build container as `/bin/sh /app/.nubo/build` with
/// the source in `/app`: it exports the build environment (pip and npm quiet and without
/// caches in `/app`, the config vars, the CA bundle and registry configuration of
/// `settings`), runs each step in `/app` printing `-----> <step>`, writes the launch script,
/// removes the build-only files under `/app` (the settings' files and the build script) and
/// ends with `nubo-build: succeeded`. When anything fails it removes them too, prints
/// `nubo-build: failed: <step>` and exits non-zero.
pub fn build_script(plan: &Plan, settings: &BuildSettings) -> String {
    let mut build_only: Vec<&str> = [
        &settings.ca_file,
        &settings.pip_config,
        &settings.npm_config,
    ]
    .into_iter()
    .flatten()
    .map(String::as_str)
    .filter(|p| p.starts_with("/app/"))
    .collect();
    build_only.push(BUILD_SCRIPT_PATH);
    let build_only: Vec<String> = build_only.into_iter().map(shell_quote).collect();

    let mut s = String::from(
        "#!/bin/sh\n\
         # Nubo build script, written by the PaaS (nubo-paas buildpack): builds the app in\n\
         # /app into a slug. It holds the app's config vars and removes itself when it ends.\n\
         set -eu\n\
         nubo_step='preparing the build'\n\
         nubo_done=no\n",
    );
    let _ = write!(
        s,
        "nubo_clean() {{\n  rm -f -- {}\n}}\n",
        build_only.join(" ")
    );
    s.push_str(
        "nubo_exit() {\n  \
           nubo_status=$?\n  \
           if [ \"$nubo_done\" != yes ]; then\n    \
             nubo_clean || :\n    \
             [ \"$nubo_status\" -ne 0 ] || nubo_status=1\n    \
             printf '%s\\n' \"-----> exit status $nubo_status\" \"nubo-build: failed: $nubo_step\"\n    \
             exit \"$nubo_status\"\n  \
           fi\n\
         }\n\
         trap nubo_exit EXIT\n\
         trap 'exit 129' HUP\n\
         trap 'exit 130' INT\n\
         trap 'exit 143' TERM\n\
         nubo_begin() {\n  \
           nubo_step=$1\n  \
           printf '%s\\n' \"-----> $1\"\n\
         }\n",
    );
    let _ = writeln!(
        s,
        "printf '%s\\n' {}",
        shell_quote(&format!("-----> {} app detected", plan.language))
    );

    s.push_str("# The build environment.\n");
    s.push_str(
        "export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_NO_CACHE_DIR=1\n\
         export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false\n",
    );
    s.push_str("# The app's config vars.\n");
    s.push_str(&env_file(&settings.config));
    s.push_str("# Trust and registries handed in by the platform.\n");
    if let Some(ca) = &settings.ca_file {
        let ca = shell_quote(ca);
        for var in [
            "SSL_CERT_FILE",
            "PIP_CERT",
            "REQUESTS_CA_BUNDLE",
            "NODE_EXTRA_CA_CERTS",
            // Over a `cafile` the host's npm configuration names, which is not this bundle
            // inside the container.
            "NPM_CONFIG_CAFILE",
        ] {
            let _ = writeln!(s, "export {var}={ca}");
        }
    }
    if let Some(pip) = &settings.pip_config {
        let _ = writeln!(s, "export PIP_CONFIG_FILE={}", shell_quote(pip));
    }
    if let Some(npm) = &settings.npm_config {
        let _ = writeln!(s, "export NPM_CONFIG_USERCONFIG={}", shell_quote(npm));
    }
    s.push_str(&path_line(plan));
    // Caches (npm's) go to the home directory, never into the slug.
    s.push_str("export HOME=\"${HOME:-/root}\"\n");
    // A config var may have the name of one of the script's own variables.
    s.push_str("nubo_step='preparing the build'\nnubo_done=no\ncd /app\n");

    for step in &plan.steps {
        let _ = writeln!(s, "nubo_begin {}", shell_quote(&step.label));
        let _ = writeln!(
            s,
            "printf '%s\\n' {}",
            shell_quote(&format!(
                "       $ {}",
                step.command.replace('\n', "\n         ")
            ))
        );
        let _ = writeln!(s, "(\n{}\n)", step.command);
    }

    let _ = writeln!(s, "nubo_begin 'Writing {LAUNCH_SCRIPT_PATH}'");
    let _ = writeln!(s, "mkdir -p {NUBO_DIR}");
    let _ = writeln!(
        s,
        "printf '%s' {} > {LAUNCH_SCRIPT_PATH}",
        shell_quote(&launch_script(plan))
    );
    let _ = writeln!(s, "chmod 755 {LAUNCH_SCRIPT_PATH}");
    let names: Vec<&str> = plan.process_types.keys().map(String::as_str).collect();
    let found = match (names.is_empty(), plan.from_procfile) {
        (true, _) => "       No process types (add a Procfile)".to_owned(),
        (false, true) => format!("       Procfile declares types -> {}", names.join(", ")),
        (false, false) => format!(
            "       Default types for {} -> {}",
            plan.language,
            names.join(", ")
        ),
    };
    let _ = writeln!(s, "printf '%s\\n' {}", shell_quote(&found));
    s.push_str(
        "nubo_begin 'Removing build-only files'\n\
         nubo_clean\n\
         nubo_done=yes\n\
         echo 'nubo-build: succeeded'\n",
    );
    s
}

#[cfg(test)]
mod tests;
