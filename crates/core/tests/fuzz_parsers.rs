//! Fuzzing the core's parsers of template values users write (issue 12): CPU, VCPU and
//! MEMORY sizes and quota limits (`model::sizes`), address ranges (`AR=[..]` vectors,
//! `AddrQuery` for hold/release/reserve, AR updates, overlap checks) and security group
//! rules. They take the `KEY=value` pairs of a template vector, so the generators write
//! whole templates and parse them as a client's would be.
//!
//! Properties: nothing panics or overflows; sizes read back from what they write and stay
//! in their bounds; an accepted range never runs past its MAC, IPv4 or IPv6 space, and
//! every address of it is found at its own index; rules that pass `check_rule` name a
//! known protocol and direction.
//!
//! Every test is named `fuzz_…`; `PROPTEST_CASES` overrides the number of cases, so
//! `PROPTEST_CASES=1000000 cargo test -p nubo-core --release --test fuzz_parsers` is a
//! long run.

use std::net::{Ipv4Addr, Ipv6Addr};

use nubo_core::model::{
    Amount, Cpu, MAX_MEMORY_MB, MAX_VCPU, SizeError, format_mac, parse_memory_mb, parse_vcpu,
};
use nubo_core::ops::address_range::{
    AddrQuery, check_bounds, check_overlap, index_of, parse_ar, update_range,
};
use nubo_core::ops::secgroup::check_rule;
use nubo_template::Template;
use nubo_testkit::cases;
use proptest::collection::vec;
use proptest::prelude::*;

/// Number-like text: decimals of any length, signs, exponents, odd digits and blanks.
fn numeric_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,25}(\\.[0-9]{0,25})?",
        "[+-]?[0-9]{0,6}[.,]?[0-9]{0,4}([eE][+-]?[0-9]{1,4})?",
        "[ \t]{0,2}[0-9]{1,8}[ \t\n]{0,2}",
        prop_oneof![
            Just("nan"),
            Just("inf"),
            Just("-0"),
            Just("0x10"),
            Just("١٢"),
            Just("１"),
            Just("."),
            Just("1."),
            Just(".5"),
            Just("1_000")
        ]
        .prop_map(str::to_owned),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| format!("{n}.{n}")),
        "\\PC{0,16}",
    ]
}

fn check_size_error(e: &SizeError) -> Result<(), TestCaseError> {
    // Errors quote the input shortened: a megabyte of digits gives a short message.
    prop_assert!(e.to_string().len() < 400, "{}", e);
    Ok(())
}

/// A vector's pairs as a client's template gives them: parsed from `KEY=value` text.
fn vector(text: &str) -> Option<Vec<(String, String)>> {
    let t = Template::parse(text).ok()?;
    t.attrs.first()?.value.as_vector().map(<[_]>::to_vec)
}

/// An `AR=[..]` vector: any type, addresses near the ends of their spaces, any size.
fn ar_text() -> impl Strategy<Value = String> {
    let ty = prop_oneof![
        Just("ETHER"),
        Just("IP4"),
        Just("IP6"),
        Just("IP6_STATIC"),
        Just("IP4_6"),
        Just("IP4_6_STATIC"),
        Just("ip4"),
        Just("BOGUS")
    ];
    let ip = prop_oneof![
        any::<u32>().prop_map(|n| Ipv4Addr::from(n).to_string()),
        Just("255.255.255.255".to_owned()),
        Just("0.0.0.0".to_owned()),
        Just("10.0.0.256".to_owned()),
        Just(String::new()),
    ];
    let ip6 = prop_oneof![
        any::<u128>().prop_map(|n| Ipv6Addr::from(n).to_string()),
        Just("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".to_owned()),
        Just("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0".to_owned()),
        Just("2001:db8::".to_owned()),
        Just("::1".to_owned()),
        Just("x::".to_owned()),
    ];
    let mac = prop_oneof![
        any::<u64>().prop_map(|n| format_mac(n & 0xFFFF_FFFF_FFFF)),
        Just("ff:ff:ff:ff:ff:ff".to_owned()),
        Just("02:00:ff:ff:ff:ff".to_owned()),
        Just("02:00:+a:00:00:01".to_owned()),
        Just("02:00".to_owned()),
    ];
    let size = prop_oneof![1u32..300, Just(u32::MAX), Just(1 << 24), any::<u32>(),]
        .prop_map(|s| s.to_string());
    (
        ty,
        prop::option::of(ip),
        prop::option::of(ip6),
        prop::option::of(mac),
        prop::option::of(prop_oneof![size, numeric_text()]),
        prop::option::of(prop_oneof![
            (0u32..140).prop_map(|p| p.to_string()),
            numeric_text()
        ]),
        prop::option::of(prop_oneof![Just("2001:db8::"), Just("fd00::"), Just("zz")]),
    )
        .prop_map(|(ty, ip, ip6, mac, size, pl, prefix)| {
            let mut out = format!("AR=[TYPE=\"{ty}\"");
            for (k, v) in [
                ("IP", ip),
                ("IP6", ip6),
                ("MAC", mac),
                ("SIZE", size),
                ("PREFIX_LENGTH", pl),
                ("GLOBAL_PREFIX", prefix.map(str::to_owned)),
            ] {
                if let Some(v) = v {
                    out.push_str(&format!(", {k}=\"{}\"", v.replace(['"', '\\'], "")));
                }
            }
            out.push(']');
            out
        })
}

/// Checks an accepted range: within its spaces, and its first and last addresses found
/// at their own indexes.
fn check_range(ar: &nubo_core::model::AddressRange) -> Result<(), TestCaseError> {
    prop_assert!(check_bounds(ar).is_ok());
    prop_assert!(ar.size >= 1);
    let last = ar.size - 1;
    for i in [0, last / 2, last] {
        prop_assert_eq!(index_of(ar, AddrQuery::Mac(ar.mac_at(i))), Some(i));
        if let Some(ip) = ar.ip_at(i) {
            prop_assert_eq!(index_of(ar, AddrQuery::Ip(ip)), Some(i));
        }
        if let Some(ip6) = ar.ip6_at(i) {
            prop_assert_eq!(index_of(ar, AddrQuery::Ip6(ip6)), Some(i));
        }
    }
    Ok(())
}

fn rule_text() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        prop_oneof![
            Just("TCP"),
            Just("udp"),
            Just("ICMP"),
            Just("ICMPV6"),
            Just("IPSEC"),
            Just("ALL"),
            Just("SCTP")
        ]
        .prop_map(|p| format!("PROTOCOL={p}")),
        prop_oneof![Just("inbound"), Just("OUTBOUND"), Just("sideways")]
            .prop_map(|t| format!("RULE_TYPE={t}")),
        prop_oneof![
            Just("22".to_owned()),
            Just("1000:2000".to_owned()),
            Just("22,80,1000:2000".to_owned()),
            Just("99999999999999999999".to_owned()),
            Just(":".to_owned()),
            Just("1:2:3".to_owned()),
            Just(",".to_owned()),
            "[0-9:,]{0,12}",
        ]
        .prop_map(|r| format!("RANGE=\"{r}\"")),
        numeric_text().prop_map(|t| format!("ICMP_TYPE=\"{}\"", t.replace(['"', '\\'], ""))),
        numeric_text().prop_map(|t| format!("ICMPV6_TYPE=\"{}\"", t.replace(['"', '\\'], ""))),
        prop_oneof![
            any::<u32>().prop_map(|n| Ipv4Addr::from(n).to_string()),
            any::<u128>().prop_map(|n| Ipv6Addr::from(n).to_string()),
            Just("x".to_owned())
        ]
        .prop_map(|ip| format!("IP=\"{ip}\"")),
        prop_oneof![
            any::<u128>().prop_map(|n| n.to_string()),
            Just(u128::MAX.to_string()),
            Just("340282366920938463463374607431768211456".to_owned()),
            Just("4294967296".to_owned()),
            numeric_text()
        ]
        .prop_map(|s| format!("SIZE=\"{}\"", s.replace(['"', '\\'], ""))),
        numeric_text().prop_map(|n| format!("NETWORK_ID=\"{}\"", n.replace(['"', '\\'], ""))),
        numeric_text().prop_map(|n| format!("REMOTE_GROUP_ID=\"{}\"", n.replace(['"', '\\'], ""))),
    ];
    vec(field, 0..7).prop_map(|f| format!("RULE=[{}]", f.join(",")))
}

/// Found by reading what `fuzz_address_ranges` covers: a static IPv6 range ending at the
/// last address of the space passes `check_bounds`; `check_overlap` used to add its size to
/// its first address in `u128` and overflow (a panic in debug builds; in release the sum
/// wrapped and the overlap went unseen).
#[test]
fn fuzz_overlap_at_the_top_of_the_ipv6_space() {
    let top = vector(
        "AR=[TYPE=IP6_STATIC, IP6=\"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\", \
         PREFIX_LENGTH=64, SIZE=1, MAC=\"02:00:00:00:00:01\"]",
    )
    .expect("vector");
    let low = vector(
        "AR=[TYPE=IP6_STATIC, IP6=\"2001:db8::\", PREFIX_LENGTH=64, SIZE=1, \
         MAC=\"02:00:00:00:01:00\"]",
    )
    .expect("vector");
    let top = parse_ar(&top, 0, 0).expect("a valid range");
    let low = parse_ar(&low, 1, 0).expect("a valid range");
    assert!(check_overlap(std::slice::from_ref(&low), &top).is_ok());
}

proptest! {
    #![proptest_config(cases(4096))]

    #[test]
    fn fuzz_sizes(text in numeric_text()) {
        match Cpu::parse("CPU", &text) {
            Ok(cpu) => {
                prop_assert!(cpu >= Cpu::MIN && cpu <= Cpu::MAX);
                prop_assert_eq!(Cpu::parse("CPU", &cpu.to_string()), Ok(cpu));
            }
            Err(e) => check_size_error(&e)?,
        }
        match parse_vcpu(&text) {
            Ok(v) => prop_assert!((1..=MAX_VCPU).contains(&v)),
            Err(e) => check_size_error(&e)?,
        }
        match parse_memory_mb(&text) {
            Ok(m) => {
                prop_assert!((1..=MAX_MEMORY_MB).contains(&m));
                prop_assert_eq!(parse_memory_mb(&m.to_string()), Ok(m));
            }
            Err(e) => check_size_error(&e)?,
        }
        match Amount::parse_limit("VMS", &text) {
            Ok(a) => prop_assert_eq!(Amount::parse_limit("VMS", &a.to_string()), Ok(a)),
            Err(e) => check_size_error(&e)?,
        }
    }

}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn fuzz_sizes_huge_text(len in 1000usize..4000, seed in any::<u64>(), dot in any::<bool>()) {
        // Digits from a linear congruential sequence: a regex strategy this long is slow
        // in a debug build.
        let mut x = seed;
        let digits: String = (0..len)
            .map(|_| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                char::from(b'0' + (x >> 60) as u8 % 10)
            })
            .collect();
        let text = if dot { format!("1.{digits}") } else { format!("1{digits}") };
        for e in [
            Cpu::parse("CPU", &text).err(),
            parse_vcpu(&text).err(),
            parse_memory_mb(&text).err(),
            Amount::parse_limit("VMS", &text).err(),
        ] {
            let e = e.ok_or_else(|| TestCaseError::fail("a huge number was taken"))?;
            check_size_error(&e)?;
        }
    }
}

proptest! {
    #![proptest_config(cases(4096))]

    #[test]
    fn fuzz_address_ranges(text in ar_text(), seed in any::<u32>(), other in ar_text(), update in ar_text()) {
        let Some(pairs) = vector(&text) else {
            return Ok(());
        };
        if let Ok(ar) = parse_ar(&pairs, 0, seed) {
            check_range(&ar)?;
            // An update (its SIZE and prefixes) keeps the range within its spaces.
            if let Some(update) = vector(&update)
                && let Ok(new) = update_range(&ar, &update)
            {
                check_range(&new)?;
            }
            // Overlap checks against any other range, at the ends of every space.
            if let Some(other) = vector(&other)
                && let Ok(b) = parse_ar(&other, 1, seed.wrapping_add(1))
            {
                let _ = check_overlap(std::slice::from_ref(&b), &ar);
                let _ = check_overlap(std::slice::from_ref(&ar), &b);
            }
        }
        // The same pairs as a hold/release/reserve request.
        if let Ok(Some(q)) = AddrQuery::from_pairs(&pairs)
            && let Ok(ar) = parse_ar(&pairs, 0, seed)
        {
            let _ = index_of(&ar, q);
        }
    }

    #[test]
    fn fuzz_secgroup_rules(text in rule_text()) {
        let Some(rule) = vector(&text) else {
            return Ok(());
        };
        if check_rule(&rule).is_ok() {
            let get = |k: &str| rule.iter().find(|(n, _)| n == k).map(|(_, v)| v.to_ascii_uppercase());
            let protocol = get("PROTOCOL").unwrap_or_default();
            prop_assert!(["TCP", "UDP", "ICMP", "ICMPV6", "IPSEC", "ALL"].contains(&protocol.as_str()));
            let direction = get("RULE_TYPE").unwrap_or_default();
            prop_assert!(direction == "INBOUND" || direction == "OUTBOUND");
        }
    }
}
