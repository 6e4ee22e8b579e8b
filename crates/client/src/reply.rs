//! Turning an HTTP answer into a value or a [`ClientError`], with no I/O: the HTTP checks
//! (status, `Content-Type`), the XML-RPC decoding, and OpenNebula's reply arrays
//! `[true, value, 0]` / `[false, message, code, …]`.

use nubo_xmlrpc::{MethodResponse, Value, parse_response};

use crate::ClientError;

/// What came back over HTTP.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HttpReply<'a> {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The body.
    pub body: &'a [u8],
}

/// The value of a successful call, or why it failed.
pub(crate) fn interpret(
    endpoint: &str,
    method: &str,
    reply: HttpReply<'_>,
) -> Result<Value, ClientError> {
    if reply.status != 200 {
        return Err(ClientError::Http {
            endpoint: endpoint.to_owned(),
            status: reply.status,
        });
    }
    let content_type = reply.content_type.unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("text/xml") && !mime.eq_ignore_ascii_case("application/xml") {
        return Err(ClientError::ContentType {
            endpoint: endpoint.to_owned(),
            content_type: content_type.to_owned(),
        });
    }
    let response = parse_response(reply.body).map_err(|source| ClientError::Decode {
        method: method.to_owned(),
        source,
    })?;
    unwrap_response(method, response)
}

/// The value inside OpenNebula's reply array, or the error it reports.
pub(crate) fn unwrap_response(
    method: &str,
    response: MethodResponse,
) -> Result<Value, ClientError> {
    let unexpected = |detail: String| ClientError::Reply {
        method: method.to_owned(),
        detail,
    };
    let items = match response {
        MethodResponse::Fault { code, message } => {
            return Err(ClientError::Fault {
                method: method.to_owned(),
                code,
                message,
            });
        }
        MethodResponse::Success(Value::Array(items)) => items,
        MethodResponse::Success(other) => {
            return Err(unexpected(format!(
                "expected an array, got <{}>",
                other.type_name()
            )));
        }
    };
    let mut items = items.into_iter();
    let ok = items.next().as_ref().and_then(Value::as_bool);
    let value = items.next();
    match (ok, value) {
        (Some(true), Some(value)) => Ok(value),
        (Some(false), Some(message)) => Err(ClientError::Api {
            code: items.next().as_ref().and_then(Value::as_i32).unwrap_or(-1),
            message: match message {
                Value::String(s) => s,
                other => format!("[{method}] failed with a <{}> message", other.type_name()),
            },
        }),
        _ => Err(unexpected("expected [bool, value, code, …]".to_owned())),
    }
}

/// The value as a string (XML documents, tokens, versions).
pub(crate) fn string(method: &str, value: Value) -> Result<String, ClientError> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(ClientError::Reply {
            method: method.to_owned(),
            detail: format!("expected a string, got <{}>", other.type_name()),
        }),
    }
}

/// The value as an object id.
pub(crate) fn id(method: &str, value: Value) -> Result<i32, ClientError> {
    value.as_i32().ok_or_else(|| ClientError::Reply {
        method: method.to_owned(),
        detail: format!("expected an id, got <{}>", value.type_name()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nubo_xmlrpc::{failure, success, write_response};

    const EP: &str = "http://h:2633/RPC2";

    fn reply(body: &str) -> HttpReply<'_> {
        HttpReply {
            status: 200,
            content_type: Some("text/xml; charset=utf-8"),
            body: body.as_bytes(),
        }
    }

    #[test]
    fn success_yields_the_value() {
        let body = write_response(&success(Value::from("<USER/>")));
        let v = interpret(EP, "one.user.info", reply(&body)).expect("ok");
        assert_eq!(v, Value::from("<USER/>"));
        assert_eq!(string("m", v).expect("string"), "<USER/>");
        assert_eq!(id("m", Value::Int(7)).expect("id"), 7);
        assert!(matches!(
            id("m", Value::from("7")),
            Err(ClientError::Reply { .. })
        ));
    }

    #[test]
    fn failure_arrays_become_api_errors() {
        let body = write_response(&failure("[one.user.info] Error getting user [9].", 1024, 9));
        let err = interpret(EP, "one.user.info", reply(&body)).expect_err("api error");
        match &err {
            ClientError::Api { code, message } => {
                assert_eq!(*code, 1024);
                assert_eq!(message, "[one.user.info] Error getting user [9].");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(err.to_string(), "[one.user.info] Error getting user [9].");
        assert_eq!(err.category(), crate::error::Category::Refused);
    }

    #[test]
    fn three_element_failures_are_understood_too() {
        let resp = MethodResponse::Success(Value::Array(vec![
            Value::Bool(false),
            Value::from("denied"),
            Value::Int(512),
        ]));
        assert!(matches!(
            unwrap_response("m", resp),
            Err(ClientError::Api { code: 512, .. })
        ));
    }

    #[test]
    fn faults_keep_code_and_method() {
        let body = write_response(&MethodResponse::Fault {
            code: -506,
            message: "Unknown method: one.x.y".into(),
        });
        let err = interpret(EP, "one.x.y", reply(&body)).expect_err("fault");
        assert!(matches!(err, ClientError::Fault { code: -506, .. }));
        assert_eq!(
            err.to_string(),
            "[one.x.y] xml-rpc fault -506: Unknown method: one.x.y"
        );
    }

    #[test]
    fn http_problems() {
        let mut r = reply("");
        r.status = 404;
        assert!(matches!(
            interpret(EP, "m", r),
            Err(ClientError::Http { status: 404, .. })
        ));
        let mut r = reply("<html/>");
        r.content_type = Some("text/html");
        let err = interpret(EP, "m", r).expect_err("content type");
        assert!(err.to_string().contains("\"text/html\""), "{err}");
        r.content_type = None;
        assert!(matches!(
            interpret(EP, "m", r),
            Err(ClientError::ContentType { .. })
        ));
        assert_eq!(err.category(), crate::error::Category::Unreachable);
    }

    #[test]
    fn malformed_and_odd_replies() {
        assert!(matches!(
            interpret(EP, "m", reply("<methodResponse>")),
            Err(ClientError::Decode { .. })
        ));
        let odd = MethodResponse::Success(Value::Int(1));
        assert!(matches!(
            unwrap_response("m", odd),
            Err(ClientError::Reply { .. })
        ));
        let short = MethodResponse::Success(Value::Array(vec![Value::Bool(true)]));
        assert!(matches!(
            unwrap_response("m", short),
            Err(ClientError::Reply { .. })
        ));
        let not_bool = MethodResponse::Success(Value::Array(vec![Value::from("x"), Value::Int(1)]));
        assert!(unwrap_response("m", not_bool).is_err());
    }
}
