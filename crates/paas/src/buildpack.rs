//! Buildpacks: how the PaaS turns an app's source into a slug, as Piku and Heroku do. This
//! module owns detection ([`detect`]: which recipe builds the source, what it runs at build
//! time and which process types the slug declares), the build script the build container
//! runs ([`build_script`]) and the launch script app instances run ([`launch_script`]).
//!
//! Detection reads the source directory on the host and nothing else: symlinks are followed
//! only while they stay inside the source (one leading out is an error), and every file read
//! is a regular file, read within a size limit. The scripts are plain POSIX sh for the stack
//! (Debian 12: python3 with venv, nodejs 18 and npm, coreutils) and hold every value they
//! carry in single quotes ([`shell_quote`]).

mod manifest;
mod procfile;
mod script;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

pub use procfile::{PROCFILE_MAX_BYTES, PROCFILE_MAX_TYPES, parse_procfile};
pub use script::{
    BUILD_SCRIPT_PATH, BuildSettings, LAUNCH_SCRIPT_PATH, NUBO_DIR, RUN_EXIT_LINE, build_script,
    env_file, launch_script, shell_quote,
};

/// Where the slug lives in build and app containers.
pub const APP_DIR: &str = "/app";
/// The Python virtualenv a Python build makes.
pub const VENV_DIR: &str = "/app/.venv";
/// The largest manifest (`package.json`, `pyproject.toml`, `requirements.txt`) read.
pub const MANIFEST_MAX_BYTES: u64 = 1024 * 1024;

/// What went wrong while looking at an app's source.
#[derive(Debug, thiserror::Error)]
pub enum BuildpackError {
    /// No recipe matches the source.
    #[error(
        "cannot tell how to build this app: found none of bin/build, requirements.txt, \
         pyproject.toml, package.json, index.html at the top of the source"
    )]
    NotDetected,
    /// A file could not be read.
    #[error("cannot read {file}: {source}")]
    Io {
        /// The file, relative to the source.
        file: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A file that must be a regular file is something else (a directory, a FIFO, …).
    #[error("{file} is not a regular file")]
    NotRegular {
        /// The file, relative to the source.
        file: String,
    },
    /// A file of the source is a symlink that leads out of the source.
    #[error("{file} is a symlink leading out of the source")]
    OutsideSource {
        /// The file, relative to the source.
        file: String,
    },
    /// A file is larger than it may be.
    #[error("{file} is larger than {limit} bytes")]
    TooLarge {
        /// The file, relative to the source.
        file: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// A line of the Procfile is wrong.
    #[error("Procfile line {line}: {reason}")]
    Procfile {
        /// The line's number, from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The Procfile as a whole is wrong (no types, too many).
    #[error("Procfile: {0}")]
    ProcfileShape(String),
    /// A manifest (`package.json`, `pyproject.toml`, `requirements.txt`) cannot be used.
    #[error("{file}: {reason}")]
    Manifest {
        /// The file, relative to the source.
        file: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The recipe that builds an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// The app's own `bin/build` script.
    Custom,
    /// Python: a virtualenv and pip (`requirements.txt` or `pyproject.toml`), or the stack's
    /// `python3` alone when there is nothing to install.
    Python,
    /// Node.js: npm (`package.json`).
    Node,
    /// A static site (`index.html`), served as files.
    Static,
}

impl Language {
    /// Its name, as build logs and the API show it.
    pub fn name(self) -> &'static str {
        match self {
            Language::Custom => "bin/build",
            Language::Python => "Python",
            Language::Node => "Node.js",
            Language::Static => "static",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One build step: a shell command run in `/app` by the build script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What it does, for the log and for `nubo-build: failed: <label>`.
    pub label: String,
    /// The command, run by `/bin/sh` in `/app` with `set -eu`.
    pub command: String,
}

impl Step {
    fn new(label: &str, command: &str) -> Step {
        Step {
            label: label.to_owned(),
            command: command.to_owned(),
        }
    }
}

/// How to build and run an app, as [`detect`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The recipe.
    pub language: Language,
    /// The build steps, in order.
    pub steps: Vec<Step>,
    /// Directories put in front of `PATH` at build and at run time, first first.
    pub path: Vec<String>,
    /// Process types and their commands: the Procfile's when there is one, else the
    /// recipe's default (`web`), possibly none (a `bin/build` app without a Procfile, a
    /// Python app with neither a Procfile nor `app.py`/`main.py`).
    pub process_types: BTreeMap<String, String>,
    /// Whether the process types come from a Procfile.
    pub from_procfile: bool,
}

/// Decides how to build the source in `source` (the checkout that becomes `/app`), in
/// Piku's and Heroku's order: `bin/build`, then `requirements.txt` or `pyproject.toml`
/// (Python), then `package.json` (Node.js), then `index.html` (static). Process types come
/// from the `Procfile` when there is one, else from the recipe's defaults.
pub fn detect(source: &Path) -> Result<Plan, BuildpackError> {
    let src = manifest::Source::new(source)?;
    let procfile = match src.read("Procfile", PROCFILE_MAX_BYTES)? {
        Some(bytes) => Some(parse_procfile(&bytes)?),
        None => None,
    };
    let (language, steps, path, defaults) = if src.is_file("bin/build")? {
        custom()
    } else if let Some(requirements) = src.read("requirements.txt", MANIFEST_MAX_BYTES)? {
        let deps = manifest::requirement_names(&requirements);
        let install = if manifest::requirements_are_empty(&requirements)
            && !pyproject_lists_dependencies(&src)?
        {
            PythonInstall::Nothing
        } else {
            PythonInstall::Requirements
        };
        python(&src, install, &deps)?
    } else if let Some(pyproject) = src.read("pyproject.toml", MANIFEST_MAX_BYTES)? {
        let deps = manifest::pyproject_dependencies(&pyproject)?;
        python(&src, PythonInstall::Project, &deps)?
    } else if let Some(package) = src.read("package.json", MANIFEST_MAX_BYTES)? {
        node(&src, &package)?
    } else if src.is_file("index.html")? {
        static_site()
    } else {
        return Err(BuildpackError::NotDetected);
    };
    let from_procfile = procfile.is_some();
    Ok(Plan {
        language,
        steps,
        path: path.into_iter().map(str::to_owned).collect(),
        process_types: procfile.unwrap_or(defaults),
        from_procfile,
    })
}

type Recipe = (
    Language,
    Vec<Step>,
    Vec<&'static str>,
    BTreeMap<String, String>,
);

fn web(command: String) -> BTreeMap<String, String> {
    BTreeMap::from([("web".to_owned(), command)])
}

/// The app's own `bin/build`, run as it is (by its `#!` line when executable, else by
/// `/bin/sh`); `/app/bin` goes on `PATH`; no default process types.
fn custom() -> Recipe {
    let run = "if [ -x bin/build ]; then ./bin/build; else /bin/sh bin/build; fi";
    (
        Language::Custom,
        vec![Step::new("Running bin/build", run)],
        vec!["/app/bin"],
        BTreeMap::new(),
    )
}

/// What pip installs for a Python app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PythonInstall {
    /// `pip install -r requirements.txt`.
    Requirements,
    /// `pip install .` (a `pyproject.toml` without `requirements.txt`).
    Project,
    /// Nothing: `requirements.txt` lists nothing (blank lines and comments only) and no
    /// `pyproject.toml` lists dependencies. The app runs with the stack's `python3` and its
    /// standard library, without a virtualenv (making one and running pip on nothing took
    /// ~2.5 s of every such build).
    Nothing,
}

/// Whether a `pyproject.toml` beside `requirements.txt` lists dependencies (one that cannot
/// be read as TOML is taken to list some: the build keeps its virtualenv).
fn pyproject_lists_dependencies(src: &manifest::Source) -> Result<bool, BuildpackError> {
    Ok(match src.read("pyproject.toml", MANIFEST_MAX_BYTES)? {
        None => false,
        Some(pyproject) => {
            manifest::pyproject_dependencies(&pyproject).map_or(true, |deps| !deps.is_empty())
        }
    })
}

/// A virtualenv in `/app/.venv` and pip (none when there is nothing to install: the stack's
/// `python3` runs the app); `web` is gunicorn when the app lists it, else `python3 app.py`
/// or `python3 main.py`.
fn python(
    src: &manifest::Source,
    install: PythonInstall,
    deps: &[String],
) -> Result<Recipe, BuildpackError> {
    let venv = Step::new(
        "Creating a virtualenv in /app/.venv",
        "python3 -m venv /app/.venv",
    );
    let (steps, path) = match install {
        PythonInstall::Requirements => (
            vec![
                venv,
                Step::new(
                    "Installing requirements.txt with pip",
                    "/app/.venv/bin/pip install -r requirements.txt",
                ),
            ],
            vec!["/app/.venv/bin"],
        ),
        PythonInstall::Project => (
            vec![
                venv,
                Step::new(
                    "Installing the project (pyproject.toml) with pip",
                    "/app/.venv/bin/pip install .",
                ),
            ],
            vec!["/app/.venv/bin"],
        ),
        PythonInstall::Nothing => (
            vec![Step::new(
                "requirements.txt lists no packages: no virtualenv, the stack's python3 runs the app",
                "python3 --version",
            )],
            Vec::new(),
        ),
    };
    let gunicorn = deps.iter().any(|d| d == "gunicorn");
    let bind = "--bind 0.0.0.0:$PORT";
    let command = if gunicorn && src.is_file("app.py")? {
        Some(format!("gunicorn {bind} app:app"))
    } else if gunicorn && src.is_file("wsgi.py")? {
        Some(format!("gunicorn {bind} wsgi"))
    } else if gunicorn && src.is_file("main.py")? {
        Some(format!("gunicorn {bind} main:app"))
    } else if src.is_file("app.py")? {
        Some("python3 app.py".to_owned())
    } else if src.is_file("main.py")? {
        Some("python3 main.py".to_owned())
    } else {
        None
    };
    Ok((
        Language::Python,
        steps,
        path,
        command.map(web).unwrap_or_default(),
    ))
}

/// npm: `npm ci` with a lockfile, else `npm install`, then `npm run build` when the app has
/// a build script; `web` is `npm start` when it has a start script, else `node server.js` or
/// `node index.js`.
fn node(src: &manifest::Source, package: &[u8]) -> Result<Recipe, BuildpackError> {
    let scripts = manifest::package_scripts(package)?;
    let locked = src.is_file("package-lock.json")? || src.is_file("npm-shrinkwrap.json")?;
    let mut steps = vec![if locked {
        Step::new("Installing dependencies with npm ci", "npm ci")
    } else {
        Step::new("Installing dependencies with npm install", "npm install")
    }];
    if scripts.build {
        steps.push(Step::new("Running npm run build", "npm run build"));
    }
    let command = if scripts.start {
        Some("npm start".to_owned())
    } else if src.is_file("server.js")? {
        Some("node server.js".to_owned())
    } else if src.is_file("index.js")? {
        Some("node index.js".to_owned())
    } else {
        None
    };
    Ok((
        Language::Node,
        steps,
        vec!["/app/node_modules/.bin"],
        command.map(web).unwrap_or_default(),
    ))
}

/// Nothing to build; `web` serves `/app` with Python's `http.server` from the stack.
fn static_site() -> Recipe {
    (
        Language::Static,
        Vec::new(),
        Vec::new(),
        web("python3 -m http.server \"$PORT\" --bind 0.0.0.0 --directory /app".to_owned()),
    )
}

#[cfg(test)]
mod tests;
