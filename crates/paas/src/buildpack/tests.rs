//! Detection: the order of recipes, their steps and default process types, the Procfile's
//! precedence, and what a hostile source cannot make detection do.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use super::*;

fn app(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("ok");
    for (name, text) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().expect("ok")).expect("ok");
        fs::write(path, text).expect("ok");
    }
    dir
}

fn commands(plan: &Plan) -> Vec<&str> {
    plan.steps.iter().map(|s| s.command.as_str()).collect()
}

#[test]
fn detection_order() {
    let all = [
        ("bin/build", "echo hi"),
        ("requirements.txt", "six\n"),
        ("pyproject.toml", "[project]\nname='x'\n"),
        ("package.json", "{}"),
        ("index.html", "<p>hi"),
    ];
    let expected = [
        Language::Custom,
        Language::Python,
        Language::Python,
        Language::Node,
        Language::Static,
    ];
    for skip in 0..all.len() {
        let dir = app(&all[skip..]);
        assert_eq!(detect(dir.path()).expect("ok").language, expected[skip]);
    }
    // requirements.txt wins over pyproject.toml.
    let dir = app(&all[1..]);
    assert_eq!(
        commands(&detect(dir.path()).expect("ok"))[1],
        "/app/.venv/bin/pip install -r requirements.txt"
    );
    let dir = app(&[("README.md", "hi"), ("src/index.html", "")]);
    let err = detect(dir.path()).expect_err("an error");
    assert!(matches!(err, BuildpackError::NotDetected));
    for looked_for in [
        "bin/build",
        "requirements.txt",
        "package.json",
        "index.html",
    ] {
        assert!(err.to_string().contains(looked_for), "{err}");
    }
}

#[test]
fn python_plans() {
    let dir = app(&[("requirements.txt", "six==1.16\n"), ("app.py", "")]);
    let plan = detect(dir.path()).expect("ok");
    assert_eq!(
        commands(&plan),
        [
            "python3 -m venv /app/.venv",
            "/app/.venv/bin/pip install -r requirements.txt"
        ]
    );
    assert_eq!(plan.path, ["/app/.venv/bin"]);
    assert_eq!(plan.process_types["web"], "python3 app.py");
    assert!(!plan.from_procfile);

    let dir = app(&[
        ("requirements.txt", "Gunicorn>=21\nflask\n"),
        ("app.py", ""),
    ]);
    let plan = detect(dir.path()).expect("ok");
    assert_eq!(
        plan.process_types["web"],
        "gunicorn --bind 0.0.0.0:$PORT app:app"
    );
    // gunicorn alone is no reason to run it: there must be a module for it.
    let dir = app(&[("requirements.txt", "gunicorn\n"), ("main.py", "")]);
    let plan = detect(dir.path()).expect("ok");
    assert_eq!(
        plan.process_types["web"],
        "gunicorn --bind 0.0.0.0:$PORT main:app"
    );
    let dir = app(&[("requirements.txt", "six\n"), ("main.py", "")]);
    assert_eq!(
        detect(dir.path()).expect("ok").process_types["web"],
        "python3 main.py"
    );
    let dir = app(&[("requirements.txt", "six\n")]);
    assert!(detect(dir.path()).expect("ok").process_types.is_empty());

    let pyproject = "[project]\nname = 'x'\ndependencies = ['gunicorn']\n";
    let dir = app(&[("pyproject.toml", pyproject), ("wsgi.py", "")]);
    let plan = detect(dir.path()).expect("ok");
    assert_eq!(commands(&plan)[1], "/app/.venv/bin/pip install .");
    assert_eq!(
        plan.process_types["web"],
        "gunicorn --bind 0.0.0.0:$PORT wsgi"
    );
    let dir = app(&[("pyproject.toml", "[project\n")]);
    assert!(matches!(
        detect(dir.path()),
        Err(BuildpackError::Manifest { .. })
    ));
}

#[test]
fn python_without_packages_has_no_virtualenv() {
    for requirements in ["", "\n# none yet\n   \n"] {
        let dir = app(&[("requirements.txt", requirements), ("app.py", "")]);
        let plan = detect(dir.path()).expect("ok");
        assert_eq!(plan.language, Language::Python);
        assert_eq!(commands(&plan), ["python3 --version"]);
        assert!(plan.path.is_empty());
        assert_eq!(plan.process_types["web"], "python3 app.py");
    }
    // An option, a path or a URL is something for pip to install.
    for requirements in [
        "-r prod.txt\n",
        "./vendor/x\n",
        "git+https://example.com/x\n",
    ] {
        let dir = app(&[("requirements.txt", requirements), ("app.py", "")]);
        let plan = detect(dir.path()).expect("ok");
        assert_eq!(
            commands(&plan)[0],
            "python3 -m venv /app/.venv",
            "{requirements}"
        );
        assert_eq!(plan.path, ["/app/.venv/bin"]);
    }
    // So are the dependencies of a pyproject.toml beside it (or one that cannot be read).
    let pyproject = "[project]\nname = 'x'\ndependencies = ['six']\n";
    for pyproject in [pyproject, "[project\n"] {
        let dir = app(&[("requirements.txt", ""), ("pyproject.toml", pyproject)]);
        let plan = detect(dir.path()).expect("ok");
        assert_eq!(
            commands(&plan)[0],
            "python3 -m venv /app/.venv",
            "{pyproject}"
        );
    }
    let dir = app(&[
        ("requirements.txt", ""),
        ("pyproject.toml", "[project]\nname = 'x'\n"),
    ]);
    assert_eq!(
        commands(&detect(dir.path()).expect("ok")),
        ["python3 --version"]
    );
}

#[test]
fn node_plans() {
    let package = r#"{"scripts": {"build": "node build.js", "start": "node app.js"}}"#;
    let dir = app(&[("package.json", package), ("package-lock.json", "{}")]);
    let plan = detect(dir.path()).expect("ok");
    assert_eq!(commands(&plan), ["npm ci", "npm run build"]);
    assert_eq!(plan.path, ["/app/node_modules/.bin"]);
    assert_eq!(plan.process_types["web"], "npm start");

    let dir = app(&[("package.json", "{}"), ("server.js", ""), ("index.js", "")]);
    let plan = detect(dir.path()).expect("ok");
    assert_eq!(commands(&plan), ["npm install"]);
    assert_eq!(plan.process_types["web"], "node server.js");
    let dir = app(&[("package.json", "{}"), ("index.js", "")]);
    assert_eq!(
        detect(dir.path()).expect("ok").process_types["web"],
        "node index.js"
    );
    let dir = app(&[("package.json", "{}")]);
    assert!(detect(dir.path()).expect("ok").process_types.is_empty());
    let dir = app(&[("package.json", "[1, 2]")]);
    assert!(matches!(
        detect(dir.path()),
        Err(BuildpackError::Manifest { .. })
    ));
}

#[test]
fn static_and_custom_plans() {
    let dir = app(&[("index.html", "<p>hi")]);
    let plan = detect(dir.path()).expect("ok");
    assert!(plan.steps.is_empty());
    assert!(plan.process_types["web"].starts_with("python3 -m http.server \"$PORT\""));

    let dir = app(&[("bin/build", "#!/bin/sh\n"), ("package.json", "{}")]);
    let plan = detect(dir.path()).expect("ok");
    assert_eq!(plan.language, Language::Custom);
    assert_eq!(plan.steps.len(), 1);
    assert!(plan.process_types.is_empty());
    // bin/build as a directory is no build script.
    let dir = app(&[("bin/build/x", ""), ("index.html", "")]);
    assert_eq!(detect(dir.path()).expect("ok").language, Language::Static);
}

#[test]
fn procfile_wins_over_defaults() {
    let dir = app(&[
        ("requirements.txt", "six\n"),
        ("app.py", ""),
        ("Procfile", "worker: python3 worker.py\n"),
    ]);
    let plan = detect(dir.path()).expect("ok");
    assert!(plan.from_procfile);
    assert_eq!(plan.process_types.len(), 1);
    assert_eq!(plan.process_types["worker"], "python3 worker.py");
    let dir = app(&[("index.html", ""), ("Procfile", "web python3 x.py\n")]);
    assert!(matches!(
        detect(dir.path()),
        Err(BuildpackError::Procfile { line: 1, .. })
    ));
}

#[test]
fn symlinks_are_followed_only_inside_the_source() {
    let outside = app(&[
        ("secret", "web: cat /etc/shadow\n"),
        ("index.html", ""),
        ("build", "#!/bin/sh\n"),
    ]);
    let secret = outside.path().join("secret");
    let out_of = |err: BuildpackError, name: &str| {
        assert!(
            matches!(&err, BuildpackError::OutsideSource { file } if file == name),
            "{err}"
        );
    };

    // A Procfile, manifest, or file looked for leading out of the source is refused.
    let dir = app(&[("index.html", "")]);
    symlink(&secret, dir.path().join("Procfile")).expect("ok");
    out_of(detect(dir.path()).expect_err("an error"), "Procfile");
    let dir = app(&[]);
    symlink(&secret, dir.path().join("package.json")).expect("ok");
    out_of(detect(dir.path()).expect_err("an error"), "package.json");
    let dir = app(&[]);
    symlink(
        "../../../../../../../../etc/passwd",
        dir.path().join("requirements.txt"),
    )
    .expect("ok");
    out_of(
        detect(dir.path()).expect_err("an error"),
        "requirements.txt",
    );
    let dir = app(&[]);
    symlink(
        outside.path().join("index.html"),
        dir.path().join("index.html"),
    )
    .expect("ok");
    out_of(detect(dir.path()).expect_err("an error"), "index.html");
    let dir = app(&[("index.html", "")]);
    symlink(outside.path(), dir.path().join("bin")).expect("ok");
    out_of(detect(dir.path()).expect_err("an error"), "bin/build");

    // Inside the source they are followed, as in the container.
    let dir = app(&[
        ("requirements/prod.txt", "gunicorn\n"),
        ("deploy/Procfile.prod", "web: gunicorn app:app\n"),
        ("app.py", ""),
    ]);
    symlink("requirements/prod.txt", dir.path().join("requirements.txt")).expect("ok");
    symlink(
        "deploy/../deploy/Procfile.prod",
        dir.path().join("Procfile"),
    )
    .expect("ok");
    let plan = detect(dir.path()).expect("ok");
    assert_eq!(plan.language, Language::Python);
    assert_eq!(plan.process_types["web"], "gunicorn app:app");
    let dir = app(&[("scripts/build.sh", "#!/bin/sh\n"), ("index.html", "")]);
    fs::create_dir(dir.path().join("bin")).expect("ok");
    symlink("../scripts/build.sh", dir.path().join("bin/build")).expect("ok");
    assert_eq!(detect(dir.path()).expect("ok").language, Language::Custom);

    // Dangling symlinks are nothing; loops and directories cannot be read.
    let dir = app(&[("index.html", "")]);
    symlink("nowhere", dir.path().join("package.json")).expect("ok");
    assert_eq!(detect(dir.path()).expect("ok").language, Language::Static);
    symlink("Procfile", dir.path().join("Procfile")).expect("ok");
    assert!(matches!(detect(dir.path()), Err(BuildpackError::Io { .. })));
    let dir = app(&[("requirements.txt/x", "")]);
    assert!(matches!(
        detect(dir.path()),
        Err(BuildpackError::NotRegular { .. })
    ));
}

#[test]
fn large_manifests_are_refused() {
    let dir = app(&[("index.html", "")]);
    let big = vec![b' '; MANIFEST_MAX_BYTES as usize + 1];
    fs::write(dir.path().join("package.json"), &big).expect("ok");
    assert!(matches!(
        detect(dir.path()),
        Err(BuildpackError::TooLarge { .. })
    ));
    let big = vec![b'#'; PROCFILE_MAX_BYTES as usize + 1];
    fs::write(dir.path().join("Procfile"), big).expect("ok");
    let err = detect(dir.path()).expect_err("an error");
    assert!(
        matches!(&err, BuildpackError::TooLarge { file, .. } if file == "Procfile"),
        "{err}"
    );
}

#[test]
fn a_missing_source_cannot_be_read() {
    assert!(matches!(
        detect(Path::new("/nonexistent/nubo-app")),
        Err(BuildpackError::Io { .. })
    ));
}
