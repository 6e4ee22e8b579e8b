//! The XML-RPC data model: [`Value`], [`MethodCall`], [`MethodResponse`], lenient accessors
//! and OpenNebula's reply shapes ([`success`], [`failure`]).

/// One XML-RPC value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `<int>` or `<i4>`.
    Int(i32),
    /// `<i8>`.
    I8(i64),
    /// `<boolean>`.
    Bool(bool),
    /// `<string>`, or an untyped `<value>`.
    String(String),
    /// A `<string>` whose text is already escaped for XML character data (`&`, `<`, `>`
    /// and `\r` replaced), written as it is: a server that renders a large XML document
    /// straight into this form saves escaping it a second time. Parsers never produce it.
    EscapedString(String),
    /// `<double>`.
    Double(f64),
    /// `<dateTime.iso8601>`, kept as the text that was sent.
    DateTime(String),
    /// `<base64>`, decoded.
    Base64(Vec<u8>),
    /// `<array><data>…</data></array>`.
    Array(Vec<Value>),
    /// `<struct>`, members in document order (duplicates are kept).
    Struct(Vec<(String, Value)>),
    /// `<nil/>`.
    Nil,
}

impl Value {
    /// The value as an `i32`: an `Int`, an `I8` in range, or (leniently) a `Bool` as 0/1.
    pub fn as_i32(&self) -> Option<i32> {
        match self {
            Value::Int(i) => Some(*i),
            Value::I8(i) => i32::try_from(*i).ok(),
            Value::Bool(b) => Some(i32::from(*b)),
            _ => None,
        }
    }

    /// The value as an `i64`: an `Int` or an `I8`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(i64::from(*i)),
            Value::I8(i) => Some(*i),
            _ => None,
        }
    }

    /// The value as a `bool`: a `Bool`, or (leniently) an `Int` that is 0 or 1.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Int(0) => Some(false),
            Value::Int(1) => Some(true),
            _ => None,
        }
    }

    /// The value as a string slice, if it is a `String`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, if the value is an `Array`.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The members, if the value is a `Struct`.
    pub fn as_struct(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Struct(members) => Some(members),
            _ => None,
        }
    }

    /// The XML-RPC element name of this value's type (`"int"` for `Int`), for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::I8(_) => "i8",
            Value::Bool(_) => "boolean",
            Value::String(_) | Value::EscapedString(_) => "string",
            Value::Double(_) => "double",
            Value::DateTime(_) => "dateTime.iso8601",
            Value::Base64(_) => "base64",
            Value::Array(_) => "array",
            Value::Struct(_) => "struct",
            Value::Nil => "nil",
        }
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::I8(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Double(v)
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::Array(v)
    }
}

/// A decoded `<methodCall>`.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodCall {
    /// The `<methodName>` text, exactly as sent.
    pub method: String,
    /// The parameters, in order (possibly none).
    pub params: Vec<Value>,
}

/// A decoded `<methodResponse>`: one value, or a `<fault>`.
#[derive(Debug, Clone, PartialEq)]
pub enum MethodResponse {
    /// `<params><param><value>…</value></param></params>`.
    Success(Value),
    /// `<fault>` with its `faultCode` and `faultString`.
    Fault {
        /// `faultCode` (see [`crate::fault`]).
        code: i32,
        /// `faultString`.
        message: String,
    },
}

/// OpenNebula's success reply: `[true, value, 0]`.
pub fn success(value: Value) -> MethodResponse {
    MethodResponse::Success(Value::Array(vec![Value::Bool(true), value, Value::Int(0)]))
}

/// OpenNebula's failure reply: `[false, message, code, resp_id, i8 -1]`.
pub fn failure(message: &str, code: i32, resp_id: i32) -> MethodResponse {
    MethodResponse::Success(Value::Array(vec![
        Value::Bool(false),
        Value::String(message.to_owned()),
        Value::Int(code),
        Value::Int(resp_id),
        Value::I8(-1),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_i32_is_lenient() {
        assert_eq!(Value::Int(7).as_i32(), Some(7));
        assert_eq!(Value::I8(-3).as_i32(), Some(-3));
        assert_eq!(Value::I8(i64::from(i32::MAX) + 1).as_i32(), None);
        assert_eq!(Value::Bool(true).as_i32(), Some(1));
        assert_eq!(Value::Bool(false).as_i32(), Some(0));
        assert_eq!(Value::from("7").as_i32(), None);
        assert_eq!(Value::Double(7.0).as_i32(), None);
    }

    #[test]
    fn as_bool_is_lenient() {
        assert_eq!(Value::Bool(true).as_bool(), Some(true));
        assert_eq!(Value::Int(0).as_bool(), Some(false));
        assert_eq!(Value::Int(1).as_bool(), Some(true));
        assert_eq!(Value::Int(2).as_bool(), None);
        assert_eq!(Value::from("true").as_bool(), None);
    }

    #[test]
    fn other_accessors() {
        assert_eq!(Value::from("x").as_str(), Some("x"));
        assert_eq!(Value::Int(1).as_str(), None);
        let arr = Value::from(vec![Value::from(1), Value::from(true)]);
        assert_eq!(arr.as_array().map(<[Value]>::len), Some(2));
        assert_eq!(Value::Nil.as_array(), None);
        assert_eq!(Value::from(5i64), Value::I8(5));
        assert_eq!(Value::from(String::from("s")), Value::String("s".into()));
        assert_eq!(Value::Int(1).as_i64(), Some(1));
        assert_eq!(
            Value::Struct(vec![("a".into(), Value::Nil)])
                .as_struct()
                .map(<[_]>::len),
            Some(1)
        );
    }

    #[test]
    fn type_names() {
        let all = [
            (Value::Int(0), "int"),
            (Value::I8(0), "i8"),
            (Value::Bool(false), "boolean"),
            (Value::String(String::new()), "string"),
            (Value::Double(0.0), "double"),
            (Value::DateTime(String::new()), "dateTime.iso8601"),
            (Value::Base64(vec![]), "base64"),
            (Value::Array(vec![]), "array"),
            (Value::Struct(vec![]), "struct"),
            (Value::Nil, "nil"),
        ];
        for (v, name) in all {
            assert_eq!(v.type_name(), name);
        }
    }

    #[test]
    fn reply_shapes() {
        assert_eq!(
            success(Value::Int(5)),
            MethodResponse::Success(Value::Array(vec![
                Value::Bool(true),
                Value::Int(5),
                Value::Int(0)
            ]))
        );
        assert_eq!(
            failure("[one.vm.info] Error", 1024, 9),
            MethodResponse::Success(Value::Array(vec![
                Value::Bool(false),
                Value::String("[one.vm.info] Error".into()),
                Value::Int(1024),
                Value::Int(9),
                Value::I8(-1)
            ]))
        );
    }
}
