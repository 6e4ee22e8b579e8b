//! Tests of CPU, VCPU, MEMORY and quota amounts: what is accepted, what is refused, the
//! text and stored forms, and old stored floats (issue 12 I).

use proptest::prelude::*;

use super::*;

fn cpu(text: &str) -> Result<Cpu, SizeError> {
    Cpu::parse("CPU", text)
}

#[test]
fn cpu_takes_plain_decimals_in_hundredths() {
    for (text, hundredths) in [
        ("1", 100),
        ("0.1", 10),
        ("0.5", 50),
        ("0.25", 25),
        (".5", 50),
        ("2.", 200),
        (" 0.01 ", 1),
        ("2.500", 250),
        ("007", 700),
        ("1048576", 104_857_600),
        ("1048576.00", 104_857_600),
    ] {
        assert_eq!(cpu(text).map(Cpu::hundredths), Ok(hundredths), "{text}");
    }
}

#[test]
fn cpu_refuses_what_would_corrupt_accounting() {
    for text in [
        "1e308",
        "1e-320",
        "NaN",
        "nan",
        "inf",
        "-inf",
        "infinity",
        "-1",
        "+1",
        "0",
        "0.00",
        "0.001",
        "0.005",
        "0.009",
        "1.001",
        "",
        " ",
        ".",
        "1.2.3",
        "1,5",
        "0x10",
        "1e2",
        "1048576.01",
        "1048577",
        "4294967296",
        "18446744073709551615",
        "99999999999999999999999999999999999999",
        "١",
    ] {
        assert!(cpu(text).is_err(), "{text:?} must be refused");
    }
    assert_eq!(
        cpu("0.005").map_err(|e| e.to_string()),
        Err("CPU must be a multiple of 0.01, not \"0.005\"".to_string())
    );
    assert_eq!(
        cpu("1e308").map_err(|e| e.to_string()),
        Err("CPU must be a plain decimal number, not \"1e308\"".to_string())
    );
    assert_eq!(
        cpu("0").map_err(|e| e.to_string()),
        Err("CPU must be from 0.01 to 1048576, not \"0\"".to_string())
    );
    let long = "9".repeat(10_000);
    let message = cpu(&long).expect_err("huge").to_string();
    assert!(
        message.len() < 150,
        "a bad value is not echoed whole: {message}"
    );
}

#[test]
fn cpu_is_written_as_opennebula_prints_it() {
    for (hundredths, text) in [
        (100, "1"),
        (10, "0.1"),
        (50, "0.5"),
        (25, "0.25"),
        (5, "0.05"),
    ] {
        let c = Cpu::from_hundredths(hundredths).expect("in range");
        assert_eq!(c.to_string(), text);
    }
    assert_eq!(Cpu::from_hundredths(0), None);
    assert_eq!(Cpu::from_hundredths(Cpu::MAX.hundredths() + 1), None);
}

#[test]
fn vcpu_and_memory_are_bounded_whole_numbers() {
    assert_eq!(parse_vcpu("4"), Ok(4));
    assert_eq!(parse_vcpu("4.0"), Ok(4));
    assert_eq!(parse_vcpu("65536"), Ok(65_536));
    for text in ["0", "65537", "4294967296", "1.5", "-1", "1e3", "NaN", ""] {
        assert!(parse_vcpu(text).is_err(), "VCPU {text:?}");
    }
    assert_eq!(parse_memory_mb("512"), Ok(512));
    assert_eq!(parse_memory_mb("4294967296"), Ok(1 << 32));
    for text in [
        "0",
        "4294967297",
        "18446744073709551615",
        "1.5",
        "-512",
        "1e9",
    ] {
        assert!(parse_memory_mb(text).is_err(), "MEMORY {text:?}");
    }
    assert_eq!(
        parse_memory_mb("18446744073709551615").map_err(|e| e.to_string()),
        Err("MEMORY must be from 1 to 4294967296, not \"18446744073709551615\"".to_string())
    );
}

#[test]
fn quota_limits_are_exact_and_bounded() {
    let limit = |t: &str| Amount::parse_limit("CPU", t);
    assert_eq!(limit("0.3"), Ok(Amount::from_hundredths(30)));
    assert_eq!(limit("-1"), Ok(Amount::DEFAULT_LIMIT));
    assert_eq!(limit("-2"), Ok(Amount::UNLIMITED));
    assert_eq!(limit("-2.0"), Ok(Amount::UNLIMITED));
    assert_eq!(limit("0"), Ok(Amount::ZERO));
    for text in [
        "-3",
        "-1.5",
        "-0",
        "1e308",
        "NaN",
        "inf",
        "0.001",
        "1000000000000001",
    ] {
        assert!(limit(text).is_err(), "limit {text:?}");
    }
    // Three 0.1 add up to exactly 0.3.
    let tenth = Amount::from_hundredths(10);
    let three = tenth
        .checked_add(tenth)
        .and_then(|a| a.checked_add(tenth))
        .expect("no overflow");
    assert_eq!(Some(three), limit("0.3").ok());
    assert_eq!(
        Amount::from_hundredths(i64::MAX).checked_add(Amount::ONE),
        None
    );
    assert_eq!(
        Amount::from_hundredths(i64::MIN).released(),
        Amount::from_hundredths(i64::MAX)
    );
    assert_eq!(tenth.released(), Amount::from_hundredths(-10));
    assert_eq!(
        Amount::saturating_units(i64::MAX / 10),
        Amount::from_hundredths(i64::MAX)
    );
    assert_eq!(Amount::try_from(1.0), Ok(Amount::ONE));
    assert_eq!(Amount::try_from(-1.0), Ok(Amount::DEFAULT_LIMIT));
    assert!(Amount::try_from(f64::NAN).is_err());
    assert!(Amount::try_from(1e308).is_err());
    assert!(Amount::try_from(f64::INFINITY).is_err());
}

#[test]
fn old_stored_floats_are_read_in_hundredths() {
    let read = |json: &str| serde_json::from_str::<Cpu>(json).expect("cpu");
    assert_eq!(read("0.1").hundredths(), 10);
    assert_eq!(read("1.0").hundredths(), 100);
    assert_eq!(read("1").hundredths(), 100);
    assert_eq!(read("0.30000000000000004").hundredths(), 30);
    // What an older version let through is brought within bounds.
    assert_eq!(read("1e308"), Cpu::MAX);
    assert_eq!(read("1e-320"), Cpu::MIN);
    assert_eq!(serde_json::to_string(&read("0.1")).expect("json"), "0.1");
    assert_eq!(serde_json::to_string(&Cpu::ONE).expect("json"), "1.0");
    assert!(serde_json::from_str::<Cpu>("\"0.1\"").is_err());

    let amount = |json: &str| serde_json::from_str::<Amount>(json).expect("amount");
    assert_eq!(amount("0.30000000000000004"), Amount::from_hundredths(30));
    assert_eq!(amount("-1.0"), Amount::DEFAULT_LIMIT);
    assert_eq!(amount("2048"), Amount::from_units(2048).expect("units"));
    assert_eq!(amount("1e308"), Amount::from_hundredths(i64::MAX));
    assert_eq!(
        serde_json::to_string(&Amount::from_hundredths(30)).expect("json"),
        "0.3"
    );
    assert_eq!(serde_json::to_string(&Amount::ONE).expect("json"), "1");
    // Whole amounts beyond 2^53 / 100 survive the JSON round trip exactly.
    let big = Amount::from_units(Amount::MAX_LIMIT).expect("units");
    let json = serde_json::to_string(&big).expect("json");
    assert_eq!(serde_json::from_str::<Amount>(&json).expect("back"), big);
}

proptest! {
    #[test]
    fn cpu_parsing_never_panics_and_round_trips(text in "\\PC{0,24}") {
        if let Ok(c) = cpu(&text) {
            prop_assert!(c >= Cpu::MIN && c <= Cpu::MAX);
            prop_assert_eq!(cpu(&c.to_string()), Ok(c));
        }
    }

    #[test]
    fn decimal_looking_text_round_trips(text in "[0-9]{0,9}(\\.[0-9]{0,4})?") {
        if let Ok(c) = cpu(&text) {
            prop_assert_eq!(cpu(&c.to_string()), Ok(c));
            let json = serde_json::to_string(&c).expect("json");
            prop_assert_eq!(serde_json::from_str::<Cpu>(&json).expect("back"), c);
        }
    }

    #[test]
    fn every_cpu_in_range_round_trips(h in 1i64..=Cpu::MAX.hundredths()) {
        let c = Cpu::from_hundredths(h).expect("in range");
        prop_assert_eq!(cpu(&c.to_string()), Ok(c));
        let json = serde_json::to_string(&c).expect("json");
        prop_assert_eq!(serde_json::from_str::<Cpu>(&json).expect("back"), c);
        prop_assert_eq!(Amount::parse_limit("CPU", &c.to_string()), Ok(c.amount()));
    }

    #[test]
    fn quota_limits_never_panic(text in "\\PC{0,24}") {
        if let Ok(a) = Amount::parse_limit("CPU", &text) {
            prop_assert_eq!(Amount::parse_limit("CPU", &a.to_string()), Ok(a));
        }
    }
}
