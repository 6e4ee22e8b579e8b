//! Positional parameters of a call, read with OpenNebula's types: missing mandatory ones
//! and wrong types are XML-RPC faults; extra trailing ones are ignored.

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

    /// Integer parameter `i`.
    pub fn int(&self, i: usize) -> Result<i32, CallError> {
        let v = self.get(i)?;
        v.as_i32().ok_or_else(|| Self::wrong(i, "an integer", v))
    }

    /// String parameter `i`.
    pub fn str(&self, i: usize) -> Result<&str, CallError> {
        let v = self.get(i)?;
        v.as_str().ok_or_else(|| Self::wrong(i, "a string", v))
    }

    /// Boolean parameter `i`.
    pub fn bool(&self, i: usize) -> Result<bool, CallError> {
        let v = self.get(i)?;
        v.as_bool().ok_or_else(|| Self::wrong(i, "a boolean", v))
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
                item.as_i32()
                    .ok_or_else(|| Self::wrong(i, "an array of integers", item))
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
