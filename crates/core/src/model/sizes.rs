//! Sizes users ask for (CPU, VCPU, MEMORY) and the amounts quotas count: exact, bounded
//! numbers, so no request can corrupt accounting (issue 12 I).
//!
//! - **CPU** is a share of physical CPUs in OpenNebula's steps of 0.01, held as a whole
//!   number of hundredths ([`Cpu`]): a host's CPU_USAGE is CPU × 100, and three VMs of
//!   0.1 CPU take exactly 0.3. It is written as a plain decimal (`1`, `0.5`, `.25`,
//!   `2.50`), from 0.01 to [`Cpu::MAX_CPUS`] (2^20 CPUs: far beyond any host, small enough
//!   that no sum of VMs overflows). oned reads CPU as a float and truncates CPU × 100 for
//!   the host (0.005 counts as 0, a free VM); Nubo refuses a value that is not a multiple
//!   of 0.01 (`0.005`, `1e-320`) rather than round it, so the template the user reads back
//!   always says what is charged. Exponents, signs, `nan` and `inf` are refused.
//! - **VCPU** is a whole number from 1 to [`MAX_VCPU`] (65,536; QEMU allows far fewer).
//! - **MEMORY** is a whole number of MB from 1 to [`MAX_MEMORY_MB`] (2^32 MB, 4 PiB).
//! - **Quota limits and usage** are [`Amount`]s: hundredths too, so CPU quotas add up
//!   exactly; a limit is -1 (the default quota), -2 (unlimited) or 0 to
//!   [`Amount::MAX_LIMIT`]. Sums are checked: an operation that would overflow is refused.
//!
//! Stored bodies keep the JSON numbers older versions wrote (CPU as a float such as `0.1`,
//! quotas as floats); reading one rounds it to hundredths and brings it within bounds, so
//! old data, even data an earlier version let through unchecked, still loads.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most virtual CPUs a VM may have.
pub const MAX_VCPU: u32 = 65_536;

/// The most memory a VM may have (MB): 2^32 MB, 4 PiB.
pub const MAX_MEMORY_MB: i64 = 1 << 32;

/// The most CPU (hundredths, as CPU_USAGE counts) a host may report: as many CPUs as one
/// VM may ask for.
pub const MAX_HOST_CPU: i64 = Cpu::MAX_CPUS * 100;

/// The most memory (KB) a host may report: 2^42 KB, 4 PiB.
pub const MAX_HOST_MEMORY_KB: i64 = MAX_MEMORY_MB * 1024;

/// A number the user gave that is not an acceptable size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// Not a plain decimal number.
    #[error("{name} must be a plain decimal number, not \"{text}\"")]
    Malformed {
        /// The attribute.
        name: String,
        /// What was given (shortened).
        text: String,
    },
    /// More decimals than the attribute's step allows.
    #[error("{name} must be a multiple of {step}, not \"{text}\"")]
    Precision {
        /// The attribute.
        name: String,
        /// The step ("0.01" or "1").
        step: &'static str,
        /// What was given (shortened).
        text: String,
    },
    /// Outside the attribute's bounds.
    #[error("{name} must be from {min} to {max}, not \"{text}\"")]
    Range {
        /// The attribute.
        name: String,
        /// The least value allowed.
        min: String,
        /// The greatest value allowed.
        max: String,
        /// What was given (shortened).
        text: String,
    },
}

/// What went wrong reading a decimal, before the attribute is known.
enum Problem {
    Malformed,
    Precision,
    Range,
}

/// At most this many characters of a bad value are echoed in an error.
const ECHO: usize = 40;

fn echo(text: &str) -> String {
    match text.char_indices().nth(ECHO) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Reads a plain non-negative decimal (`12`, `0.5`, `.5`, `5.`, `2.500`) as a whole number
/// of 10^-`decimals` units; digits past `decimals` must be zeros. Values over `max` units
/// are out of range.
fn parse_units(text: &str, decimals: u32, max: i64) -> Result<i64, Problem> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return Err(Problem::Malformed);
    }
    let (kept, rest) = fraction.split_at(fraction.len().min(decimals as usize));
    if rest.bytes().any(|b| b != b'0') {
        return Err(Problem::Precision);
    }
    let mut units: i64 = 0;
    let padding = decimals as usize - kept.len();
    for b in whole
        .bytes()
        .chain(kept.bytes())
        .chain(std::iter::repeat_n(b'0', padding))
    {
        units = units
            .checked_mul(10)
            .and_then(|u| u.checked_add(i64::from(b - b'0')))
            .filter(|u| *u <= max)
            .ok_or(Problem::Range)?;
    }
    Ok(units)
}

/// Writes `hundredths` as OpenNebula prints such numbers: `1`, `0.5`, `0.25`, `-1`.
fn write_hundredths(f: &mut fmt::Formatter<'_>, hundredths: i64) -> fmt::Result {
    let sign = if hundredths < 0 { "-" } else { "" };
    let (whole, cents) = (
        hundredths.unsigned_abs() / 100,
        hundredths.unsigned_abs() % 100,
    );
    match cents {
        0 => write!(f, "{sign}{whole}"),
        c if c % 10 == 0 => write!(f, "{sign}{whole}.{}", c / 10),
        c => write!(f, "{sign}{whole}.{c:02}"),
    }
}

/// Rounds a stored JSON number to hundredths, within `min..=max`.
fn stored_hundredths(value: f64, min: i64, max: i64) -> i64 {
    if value.is_nan() {
        return min.max(0);
    }
    // `as` saturates at the i64 bounds; the clamp brings the rest within bounds.
    ((value * 100.0).round() as i64).clamp(min, max)
}

/// Accepts any JSON number (older versions wrote floats; integers are fine too).
struct NumberVisitor;

impl Visitor<'_> for NumberVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
}

/// A VM's CPU: a share of physical CPUs, exact in hundredths, from 0.01 to
/// [`Cpu::MAX_CPUS`]. Stored as the JSON float older versions wrote (`0.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cpu(i64);

impl Cpu {
    /// The most CPUs a VM may ask for: 2^20.
    pub const MAX_CPUS: i64 = 1 << 20;
    /// The least CPU: 0.01.
    pub const MIN: Cpu = Cpu(1);
    /// The most CPU: [`Cpu::MAX_CPUS`].
    pub const MAX: Cpu = Cpu(Cpu::MAX_CPUS * 100);
    /// One whole CPU.
    pub const ONE: Cpu = Cpu(100);

    /// Reads the text of a CPU attribute (surrounding blanks ignored); `name` names it in
    /// errors.
    pub fn parse(name: &str, text: &str) -> Result<Cpu, SizeError> {
        let trimmed = text.trim();
        match parse_units(trimmed, 2, Cpu::MAX.0) {
            Ok(h) if h >= Cpu::MIN.0 => Ok(Cpu(h)),
            Ok(_) | Err(Problem::Range) => Err(SizeError::Range {
                name: name.to_string(),
                min: Cpu::MIN.to_string(),
                max: Cpu::MAX.to_string(),
                text: echo(trimmed),
            }),
            Err(Problem::Precision) => Err(SizeError::Precision {
                name: name.to_string(),
                step: "0.01",
                text: echo(trimmed),
            }),
            Err(Problem::Malformed) => Err(SizeError::Malformed {
                name: name.to_string(),
                text: echo(trimmed),
            }),
        }
    }

    /// The CPU of `hundredths` (1 is 0.01), if within bounds.
    pub fn from_hundredths(hundredths: i64) -> Option<Cpu> {
        (Cpu::MIN.0..=Cpu::MAX.0)
            .contains(&hundredths)
            .then_some(Cpu(hundredths))
    }

    /// Hundredths of a CPU: what a host's CPU_USAGE counts.
    pub fn hundredths(self) -> i64 {
        self.0
    }

    /// As a float, for costs (showback) only.
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 100.0
    }

    /// As a quota amount.
    pub fn amount(self) -> Amount {
        Amount(self.0)
    }
}

impl fmt::Display for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hundredths(f, self.0)
    }
}

impl From<Cpu> for Amount {
    fn from(cpu: Cpu) -> Amount {
        cpu.amount()
    }
}

impl Serialize for Cpu {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_f64())
    }
}

impl<'de> Deserialize<'de> for Cpu {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Cpu, D::Error> {
        let value = d.deserialize_any(NumberVisitor)?;
        Ok(Cpu(stored_hundredths(value, Cpu::MIN.0, Cpu::MAX.0)))
    }
}

fn whole(name: &str, text: &str, min: i64, max: i64) -> Result<i64, SizeError> {
    let trimmed = text.trim();
    match parse_units(trimmed, 0, max) {
        Ok(v) if v >= min => Ok(v),
        Ok(_) | Err(Problem::Range) => Err(SizeError::Range {
            name: name.to_string(),
            min: min.to_string(),
            max: max.to_string(),
            text: echo(trimmed),
        }),
        Err(Problem::Precision) => Err(SizeError::Precision {
            name: name.to_string(),
            step: "1",
            text: echo(trimmed),
        }),
        Err(Problem::Malformed) => Err(SizeError::Malformed {
            name: name.to_string(),
            text: echo(trimmed),
        }),
    }
}

/// Reads a VCPU attribute: a whole number from 1 to [`MAX_VCPU`].
pub fn parse_vcpu(text: &str) -> Result<u32, SizeError> {
    let v = whole("VCPU", text, 1, i64::from(MAX_VCPU))?;
    // Within 1..=MAX_VCPU, so it fits.
    Ok(u32::try_from(v).unwrap_or(MAX_VCPU))
}

/// Reads a MEMORY attribute (MB): a whole number from 1 to [`MAX_MEMORY_MB`].
pub fn parse_memory_mb(text: &str) -> Result<i64, SizeError> {
    whole("MEMORY", text, 1, MAX_MEMORY_MB)
}

/// A quota limit or usage, exact in hundredths (CPU quotas count 0.01 steps; the other
/// fields count whole units). Stored as a JSON integer when whole, else as a float.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

impl Amount {
    /// Nothing.
    pub const ZERO: Amount = Amount(0);
    /// One unit (one VM, one lease, one image, one MB).
    pub const ONE: Amount = Amount(100);
    /// The limit -1: use the default quota.
    pub const DEFAULT_LIMIT: Amount = Amount(-100);
    /// The limit -2: unlimited.
    pub const UNLIMITED: Amount = Amount(-200);
    /// The greatest limit (units): 10^15, e.g. a zettabyte of MB.
    pub const MAX_LIMIT: i64 = 1_000_000_000_000_000;

    /// `units` whole units, if representable.
    pub fn from_units(units: i64) -> Option<Amount> {
        units.checked_mul(100).map(Amount)
    }

    /// `hundredths` hundredths of a unit.
    pub fn from_hundredths(hundredths: i64) -> Amount {
        Amount(hundredths)
    }

    /// Hundredths of a unit.
    pub fn hundredths(self) -> i64 {
        self.0
    }

    /// As a float (exact for whole units up to 2^53 / 100 and for every CPU amount).
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 100.0
    }

    /// The sum, unless it overflows.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    /// The difference, unless it overflows.
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    /// The opposite: the release of what a charge took (saturating, for `i64::MIN`).
    pub fn released(self) -> Amount {
        Amount(self.0.saturating_neg())
    }

    /// `units` whole units, saturating at the bounds of `i64` hundredths (a charge of the
    /// saturated amount overflows or exceeds any limit, and is refused).
    pub fn saturating_units(units: i64) -> Amount {
        Amount(units.saturating_mul(100))
    }

    /// Whether this is a usable limit (not -1 or -2).
    pub fn is_limit(self) -> bool {
        self.0 >= 0
    }

    /// Reads a quota limit of field `name`: -1 (default), -2 (unlimited) or a plain decimal
    /// with at most two decimals from 0 to [`Amount::MAX_LIMIT`].
    pub fn parse_limit(name: &str, text: &str) -> Result<Amount, SizeError> {
        let trimmed = text.trim();
        let range = || SizeError::Range {
            name: name.to_string(),
            min: "0 (or -1 for the default, -2 for unlimited)".to_string(),
            max: Amount::MAX_LIMIT.to_string(),
            text: echo(trimmed),
        };
        if let Some(negative) = trimmed.strip_prefix('-') {
            return match parse_units(negative, 2, 200) {
                Ok(100) => Ok(Amount::DEFAULT_LIMIT),
                Ok(200) => Ok(Amount::UNLIMITED),
                _ => Err(range()),
            };
        }
        match parse_units(trimmed, 2, Amount::MAX_LIMIT * 100) {
            Ok(h) => Ok(Amount(h)),
            Err(Problem::Range) => Err(range()),
            Err(Problem::Precision) => Err(SizeError::Precision {
                name: name.to_string(),
                step: "0.01",
                text: echo(trimmed),
            }),
            Err(Problem::Malformed) => Err(SizeError::Malformed {
                name: name.to_string(),
                text: echo(trimmed),
            }),
        }
    }
}

/// A float amount that is not a finite number of hundredths within `i64`.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("{0} is not a quota amount")]
pub struct NotAnAmount(pub f64);

impl TryFrom<f64> for Amount {
    type Error = NotAnAmount;

    /// Whole counts and sizes given as floats (`1.0`, `-1.0`, `2048.0`), rounded to
    /// hundredths.
    fn try_from(value: f64) -> Result<Amount, NotAnAmount> {
        let h = (value * 100.0).round();
        // `i64::MAX as f64` is 2^63: anything from it up does not fit, -2^63 does.
        let bound = i64::MAX as f64;
        if !h.is_finite() || h >= bound || h < -bound {
            return Err(NotAnAmount(value));
        }
        Ok(Amount(h as i64))
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hundredths(f, self.0)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 % 100 == 0 {
            s.serialize_i64(self.0 / 100)
        } else {
            s.serialize_f64(self.as_f64())
        }
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Amount, D::Error> {
        struct AmountVisitor;
        impl Visitor<'_> for AmountVisitor {
            type Value = Amount;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Amount, E> {
                Ok(Amount(stored_hundredths(v, i64::MIN, i64::MAX)))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Amount, E> {
                Ok(Amount(v.saturating_mul(100)))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Amount, E> {
                Ok(Amount(
                    i64::try_from(v).unwrap_or(i64::MAX).saturating_mul(100),
                ))
            }
        }
        d.deserialize_any(AmountVisitor)
    }
}

#[cfg(test)]
#[path = "sizes_tests.rs"]
mod tests;
