//! Positional parameters of a call, read with OpenNebula's types: missing mandatory ones
//! and wrong types are XML-RPC faults; extra trailing ones are ignored.
//!
//! Types are strict, as oned's xmlrpc-c `paramList::getInt` / `getBoolean` are: a
//! `<boolean>` where an integer is expected, or an `<int>` where a boolean is, is fault -501
//! (`Value::as_i32` / `as_bool`, lenient for reading replies, are not used here). pyone sends
//! Python bools as `<boolean>` and ints as `<int>`, so its calls are unaffected. An `<i8>`
//! that fits in 32 bits is still taken as an integer.

use nubo_xmlrpc::{Value, fault};

/// Why a call did not produce a value.
#[derive(Debug)]
pub enum CallError {
    /// A protocol-level problem, answered with an XML-RPC fault.
    Fault(i32, String),
    /// A core failure, answered with OpenNebula's failure array.
    Core(nubo_types::Error, i32),
}

impl From<nubo_types::Error> for CallError {
    fn from(e: nubo_types::Error) -> Self {
        CallError::Core(e, -1)
    }
}

/// A call's result.
pub type CallResult = Result<Value, CallError>;

/// The parameters of one call (index 0 is the session).
#[derive(Debug)]
pub struct Params {
    values: Vec<Value>,
}

impl Params {
    /// Wraps a call's parameters.
    pub fn new(values: Vec<Value>) -> Self {
        Params { values }
    }

    fn get(&self, i: usize) -> Result<&Value, CallError> {
        self.values.get(i).ok_or_else(|| {
            CallError::Fault(
                fault::MISSING,
                format!("Not enough parameters: parameter {i} is missing"),
            )
        })
    }

    fn wrong(i: usize, want: &str, got: &Value) -> CallError {
        CallError::Fault(
            fault::TYPE,
            format!("Parameter {i} must be {want}, not {}", got.type_name()),
        )
    }

    /// Integer parameter `i`: an `<int>`/`<i4>` (or an `<i8>` in range), never a boolean.
    pub fn int(&self, i: usize) -> Result<i32, CallError> {
        let v = self.get(i)?;
        strict_int(v).ok_or_else(|| Self::wrong(i, "an integer", v))
    }

    /// String parameter `i`.
    pub fn str(&self, i: usize) -> Result<&str, CallError> {
        let v = self.get(i)?;
        v.as_str().ok_or_else(|| Self::wrong(i, "a string", v))
    }

    /// Boolean parameter `i`: a `<boolean>`, never an integer.
    pub fn bool(&self, i: usize) -> Result<bool, CallError> {
        let v = self.get(i)?;
        match v {
            Value::Bool(b) => Ok(*b),
            _ => Err(Self::wrong(i, "a boolean", v)),
        }
    }

    /// Optional integer parameter `i`.
    pub fn int_or(&self, i: usize, default: i32) -> Result<i32, CallError> {
        if i < self.values.len() {
            self.int(i)
        } else {
            Ok(default)
        }
    }

    /// Optional string parameter `i`.
    pub fn str_or<'a>(&'a self, i: usize, default: &'a str) -> Result<&'a str, CallError> {
        if i < self.values.len() {
            self.str(i)
        } else {
            Ok(default)
        }
    }

    /// Optional boolean parameter `i`.
    pub fn bool_or(&self, i: usize, default: bool) -> Result<bool, CallError> {
        if i < self.values.len() {
            self.bool(i)
        } else {
            Ok(default)
        }
    }

    /// Optional array of integers `i`.
    pub fn int_array_or(&self, i: usize) -> Result<Vec<i32>, CallError> {
        if i >= self.values.len() {
            return Ok(Vec::new());
        }
        let v = self.get(i)?;
        let items = v.as_array().ok_or_else(|| Self::wrong(i, "an array", v))?;
        items
            .iter()
            .map(|item| {
                strict_int(item).ok_or_else(|| Self::wrong(i, "an array of integers", item))
            })
            .collect()
    }

    /// The nine chmod bits starting at `i`.
    pub fn perms(&self, i: usize) -> Result<[i32; 9], CallError> {
        let mut bits = [0; 9];
        for (k, bit) in bits.iter_mut().enumerate() {
            *bit = self.int(i + k)?;
        }
        Ok(bits)
    }
}

/// An integer value as xmlrpc-c reads one: `<int>`/`<i4>`, or an `<i8>` that fits.
fn strict_int(v: &Value) -> Option<i32> {
    match v {
        Value::Int(n) => Some(*n),
        Value::I8(n) => i32::try_from(*n).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault_code<T: std::fmt::Debug>(r: Result<T, CallError>) -> i32 {
        match r {
            Err(CallError::Fault(code, _)) => code,
            other => panic!("expected a fault, got {other:?}"),
        }
    }

    #[test]
    fn booleans_and_integers_do_not_stand_in_for_each_other() {
        let p = Params::new(vec![
            Value::from("s"),
            Value::Bool(true),
            Value::Int(1),
            Value::Int(0),
            Value::I8(7),
            Value::from(vec![Value::Int(1), Value::Bool(false)]),
        ]);
        assert_eq!(
            fault_code(p.int(1)),
            fault::TYPE,
            "a <boolean> is not an <int>"
        );
        assert_eq!(
            fault_code(p.bool(2)),
            fault::TYPE,
            "an <int> 1 is not a <boolean>"
        );
        assert_eq!(
            fault_code(p.bool(3)),
            fault::TYPE,
            "an <int> 0 is not a <boolean>"
        );
        assert_eq!(fault_code(p.bool_or(2, false)), fault::TYPE);
        assert_eq!(fault_code(p.int_or(1, 0)), fault::TYPE);
        assert_eq!(fault_code(p.int_array_or(5)), fault::TYPE);
        assert_eq!(fault_code(p.str(1)), fault::TYPE);
        assert!(p.bool(1).expect("a <boolean>"));
        assert_eq!(p.int(2).expect("an <int>"), 1);
        assert_eq!(p.int(4).expect("an <i8> that fits"), 7);
        assert_eq!(fault_code(p.int(9)), fault::MISSING);
        assert!(p.bool_or(9, true).expect("default"));
    }
}
