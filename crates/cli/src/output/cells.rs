//! Formatters for table cells: state codes as names, sizes in MB as `1.5G`, epoch seconds as
//! UTC dates, 0/1 as no/yes, id lists as `1,2`.

use nubo_client::Element;

/// The name of the numeric code at `path`, or the number itself when unknown.
pub fn code_name(el: &Element, path: &str, name: fn(i32) -> Option<&'static str>) -> String {
    let text = el.text_of(path).unwrap_or("");
    text.trim()
        .parse()
        .ok()
        .and_then(name)
        .map_or_else(|| text.to_owned(), str::to_owned)
}

/// `yes` / `no` for the 1 / 0 at `path` (anything else as is).
pub fn yes_no(el: &Element, path: &str) -> String {
    match el.text_of(path).map(str::trim) {
        Some("1") => "yes".into(),
        Some("0") => "no".into(),
        other => other.unwrap_or("").to_owned(),
    }
}

/// A size in megabytes, e.g. `512M`, `1.5G`, `2T`; the text as is when not a number.
pub fn bytes_mb(text: &str) -> String {
    let Ok(mb) = text.trim().parse::<f64>() else {
        return text.to_owned();
    };
    let (value, unit) = if mb >= 1024.0 * 1024.0 {
        (mb / (1024.0 * 1024.0), "T")
    } else if mb >= 1024.0 {
        (mb / 1024.0, "G")
    } else {
        (mb, "M")
    };
    let shown = format!("{value:.1}");
    format!("{}{unit}", shown.strip_suffix(".0").unwrap_or(&shown))
}

/// Epoch seconds as `YYYY-MM-DD HH:MM` in UTC; `-` for 0, the text as is when not a number.
pub fn date(text: &str) -> String {
    let Ok(secs) = text.trim().parse::<i64>() else {
        return text.to_owned();
    };
    if secs == 0 {
        return "-".into();
    }
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60
    )
}

/// The `ID` children of `el`, comma-separated.
pub fn id_list(el: &Element) -> String {
    el.children("ID")
        .map(|id| id.text.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(bytes_mb("512"), "512M");
        assert_eq!(bytes_mb("1536"), "1.5G");
        assert_eq!(bytes_mb("2097152"), "2T");
        assert_eq!(bytes_mb("x"), "x");
        assert_eq!(date("0"), "-");
        assert_eq!(date("86399"), "1970-01-01 23:59");
        assert_eq!(date("1709251200"), "2024-03-01 00:00");
        assert_eq!(date("951782400"), "2000-02-29 00:00");
        let el = Element::parse("<X><S>4</S><E>1</E><L><ID>1</ID><ID>2</ID></L></X>").expect("xml");
        assert_eq!(
            code_name(&el, "S", |c| nubo_types::states::HostState::from_code(c)
                .map(|s| s.name())),
            "DISABLED"
        );
        assert_eq!(code_name(&el, "E", |_| None), "1");
        assert_eq!(yes_no(&el, "E"), "yes");
        assert_eq!(el.find("L").map(id_list).as_deref(), Some("1,2"));
    }
}
