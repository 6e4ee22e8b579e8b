//! Cross-check: Python's `xmlrpc.client.loads` (what pyone uses) accepts what
//! `write_response` emits and reads the same values. Skipped when `python3` is missing.

use std::io::Write as _;
use std::process::{Command, Stdio};

use nubo_xmlrpc::{MethodResponse, Value, failure, success, write_response};

/// Loads a response from stdin and prints it as JSON (a fault as `{"fault": [code, msg]}`).
const SCRIPT: &str = r#"
import sys, json, xmlrpc.client as x
def conv(v):
    if isinstance(v, list): return [conv(i) for i in v]
    if isinstance(v, dict): return {k: conv(i) for k, i in v.items()}
    if isinstance(v, x.Binary): return {"base64": list(v.data)}
    if isinstance(v, x.DateTime): return {"datetime": v.value}
    return v
try:
    params, _ = x.loads(sys.stdin.buffer.read())
    print(json.dumps(conv(list(params))))
except x.Fault as f:
    print(json.dumps({"fault": [f.faultCode, f.faultString]}))
"#;

/// What Python makes of `body`, or `None` when Python is not available.
fn python_loads(body: &str) -> Option<String> {
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(body.as_bytes()).expect("write to python");
    }
    let out = child.wait_with_output().expect("python runs");
    assert!(
        out.status.success(),
        "python rejected {body}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
}

#[test]
fn python_reads_what_we_write() {
    let cases = [
        (success(Value::Int(42)), r#"[[true, 42, 0]]"#),
        (
            success(Value::from("<VM><ID>0</ID></VM>")),
            r#"[[true, "<VM><ID>0</ID></VM>", 0]]"#,
        ),
        (
            failure("[one.vm.info] Error getting virtual machine [9].", 1024, 9),
            r#"[[false, "[one.vm.info] Error getting virtual machine [9].", 1024, 9, -1]]"#,
        ),
        (
            MethodResponse::Fault {
                code: -506,
                message: "method one.x not found & <bad>".into(),
            },
            r#"{"fault": [-506, "method one.x not found & <bad>"]}"#,
        ),
        (
            // Characters XML cannot carry would make expat refuse the whole reply.
            failure(
                "NAME \"a\u{FFFE}\u{b}\u{FFFF}\u{0}\" &#11; is taken",
                2048,
                7,
            ),
            r#"[[false, "NAME \"a\ufffd\ufffd\ufffd\ufffd\" &#11; is taken", 2048, 7, -1]]"#,
        ),
        (
            MethodResponse::Fault {
                code: -503,
                message: "bad \u{1f}\u{FFFF}".into(),
            },
            r#"{"fault": [-503, "bad \ufffd\ufffd"]}"#,
        ),
        (
            MethodResponse::Success(Value::Struct(vec![
                ("s".into(), Value::from("a\r\nb]]>é🦀\t")),
                ("i8".into(), Value::I8(1 << 40)),
                ("d".into(), Value::Double(-0.5)),
                ("big".into(), Value::Double(1e21)),
                ("b".into(), Value::Bool(false)),
                ("nil".into(), Value::Nil),
                ("bytes".into(), Value::Base64(vec![0, 255, 10])),
                ("when".into(), Value::DateTime("20250102T03:04:05".into())),
                (
                    "nested".into(),
                    Value::Array(vec![Value::Array(vec![]), Value::Struct(vec![])]),
                ),
            ])),
            r#"[{"s": "a\r\nb]]>\u00e9\ud83e\udd80\t", "i8": 1099511627776, "d": -0.5, "big": 1e+21, "b": false, "nil": null, "bytes": {"base64": [0, 255, 10]}, "when": {"datetime": "20250102T03:04:05"}, "nested": [[], {}]}]"#,
        ),
    ];
    for (response, expected) in cases {
        let body = write_response(&response);
        let Some(got) = python_loads(&body) else {
            eprintln!("python3 not available; skipping the cross-check");
            return;
        };
        assert_eq!(got, expected, "for {body}");
    }
}

#[test]
fn we_read_what_python_writes() {
    let script = r#"
import xmlrpc.client as x
print(x.dumps(("oneadmin:pw", -2, True, 1.5, None, "a\r\n<b>&", {"K": [1, "v"]}, x.Binary(b"\x00\xff")),
              "one.vmpool.info", allow_none=True), end="")
"#;
    let Ok(out) = Command::new("python3").args(["-c", script]).output() else {
        eprintln!("python3 not available; skipping the cross-check");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let call = nubo_xmlrpc::parse_call(&out.stdout).expect("python's call parses");
    assert_eq!(call.method, "one.vmpool.info");
    assert_eq!(
        call.params,
        vec![
            Value::from("oneadmin:pw"),
            Value::Int(-2),
            Value::Bool(true),
            Value::Double(1.5),
            Value::Nil,
            // Python escapes only & < >, so the raw \r reaches us as it was sent.
            Value::from("a\r\n<b>&"),
            Value::Struct(vec![(
                "K".into(),
                Value::Array(vec![Value::Int(1), Value::from("v")])
            )]),
            Value::Base64(vec![0, 255]),
        ]
    );
}
