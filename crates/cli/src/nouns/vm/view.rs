//! How VMs read: the columns of `nubo vm list` (onevm's ID, USER, GROUP, NAME, STAT, CPU,
//! MEM, HOST, TIME) and the text of `nubo vm show` (the VM's state in words, its host,
//! disks, NICs with their addresses, snapshots, history, then its templates).

use std::time::{SystemTime, UNIX_EPOCH};

use nubo_client::Element;
use nubo_types::states::HistoryAction;

use super::state::Codes;
use crate::output::{self, Column, OWNED, bytes_mb, code_name, date, permissions, text, with};

/// Columns of `nubo vm list`.
pub const COLUMNS: &[Column] = &[
    OWNED[0],
    OWNED[1],
    OWNED[2],
    OWNED[3],
    with("STAT", |vm| Codes::of(vm).short().to_owned()),
    text("CPU", "TEMPLATE/CPU"),
    with("MEM", |vm| {
        bytes_mb(vm.text_of("TEMPLATE/MEMORY").unwrap_or(""))
    }),
    with("HOST", host),
    with("TIME", |vm| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        uptime(vm, now)
    }),
];

/// The host of the VM's last history record (empty when it never had one).
pub fn host(vm: &Element) -> String {
    vm.find("HISTORY_RECORDS")
        .and_then(|h| h.children("HISTORY").last())
        .and_then(|h| h.text_of("HOSTNAME"))
        .unwrap_or("")
        .to_owned()
}

/// How long the VM has existed (until it ended), as onevm writes it: `1d 02h03`.
fn uptime(vm: &Element, now: i64) -> String {
    let secs = |path| {
        vm.text_of(path)
            .and_then(|t| t.trim().parse::<i64>().ok())
            .unwrap_or(0)
    };
    let (start, end) = (secs("STIME"), secs("ETIME"));
    if start <= 0 {
        return String::new();
    }
    let elapsed = (if end > 0 { end } else { now } - start).max(0);
    format!(
        "{}d {:02}h{:02}",
        elapsed / 86_400,
        elapsed % 86_400 / 3600,
        elapsed % 3600 / 60
    )
}

/// Columns of the DISKS section.
const DISKS: &[Column] = &[
    text("ID", "DISK_ID"),
    with("IMAGE", |d| {
        d.text_of("IMAGE")
            .or_else(|| d.text_of("IMAGE_ID"))
            .unwrap_or("-")
            .to_owned()
    }),
    text("TARGET", "TARGET"),
    text("TYPE", "TYPE"),
    with("SIZE", |d| bytes_mb(d.text_of("SIZE").unwrap_or(""))),
];

/// Columns of the NICS section.
const NICS: &[Column] = &[
    text("ID", "NIC_ID"),
    with("NETWORK", |n| {
        n.text_of("NETWORK")
            .or_else(|| n.text_of("NETWORK_ID"))
            .unwrap_or("-")
            .to_owned()
    }),
    with("IP", |n| {
        n.text_of("IP")
            .or_else(|| n.text_of("IP6"))
            .unwrap_or("-")
            .to_owned()
    }),
    text("MAC", "MAC"),
];

/// Columns of the SNAPSHOTS section.
const SNAPSHOTS: &[Column] = &[
    text("ID", "SNAPSHOT_ID"),
    text("NAME", "NAME"),
    with("TIME", |s| date(s.text_of("TIME").unwrap_or(""))),
];

/// Columns of the SCHEDULED ACTIONS section.
const SCHEDULED: &[Column] = &[
    text("ID", "ID"),
    text("ACTION", "ACTION"),
    with("TIME", |s| date(s.text_of("TIME").unwrap_or(""))),
    with("DONE", |s| date(s.text_of("DONE").unwrap_or(""))),
];

/// Columns of the HISTORY section.
const HISTORY: &[Column] = &[
    text("SEQ", "SEQ"),
    text("HOST", "HOSTNAME"),
    with("ACTION", |h| {
        code_name(h, "ACTION", |c| {
            HistoryAction::from_code(c).map(HistoryAction::name)
        })
    }),
    with("START", |h| date(h.text_of("STIME").unwrap_or(""))),
    with("END", |h| date(h.text_of("ETIME").unwrap_or(""))),
];

/// The text of `nubo vm show` for a `VM` element.
pub fn show(vm: &Element) -> String {
    let codes = Codes::of(vm);
    let get = |path: &str| vm.text_of(path).unwrap_or("").to_owned();
    let mut fields = vec![
        ("ID", get("ID")),
        ("NAME", get("NAME")),
        ("USER", get("UNAME")),
        ("GROUP", get("GNAME")),
        ("STATE", codes.state_name()),
        ("LCM_STATE", codes.lcm_name()),
        ("HOST", host(vm)),
        ("CPU", get("TEMPLATE/CPU")),
        ("VCPU", get("TEMPLATE/VCPU")),
        ("MEMORY", bytes_mb(&get("TEMPLATE/MEMORY"))),
        ("START", date(&get("STIME"))),
        ("END", date(&get("ETIME"))),
        ("DEPLOY_ID", get("DEPLOY_ID")),
        (
            "RESCHED",
            if get("RESCHED") == "1" { "yes" } else { "no" }.into(),
        ),
    ];
    if let Some(perms) = vm.child("PERMISSIONS") {
        fields.push(("PERMISSIONS", permissions(perms)));
    }
    if let Some(level) = vm.text_of("LOCK/LOCKED") {
        fields.push(("LOCK", level.to_owned()));
    }
    fields.retain(|(_, v)| !v.is_empty());
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (key, value) in &fields {
        out.push_str(format!("{key:<width$} : {value}").trim_end());
        out.push('\n');
    }
    let template = vm.child("TEMPLATE");
    let list = |name: &'static str| -> Vec<&Element> {
        template.map_or_else(Vec::new, |t| t.children(name).collect())
    };
    section(&mut out, "DISKS", &list("DISK"), DISKS);
    section(&mut out, "NICS", &list("NIC"), NICS);
    section(&mut out, "SNAPSHOTS", &list("SNAPSHOT"), SNAPSHOTS);
    section(
        &mut out,
        "SCHEDULED ACTIONS",
        &list("SCHED_ACTION"),
        SCHEDULED,
    );
    let history: Vec<&Element> = vm
        .find("HISTORY_RECORDS")
        .map_or_else(Vec::new, |h| h.children("HISTORY").collect());
    section(&mut out, "HISTORY", &history, HISTORY);
    for name in ["USER_TEMPLATE", "TEMPLATE"] {
        if let Some(t) = vm.child(name).filter(|t| !t.is_leaf()) {
            out.push_str(&format!("\n{name}\n"));
            for line in output::template_text(t).lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
    }
    out
}

/// A titled table, when there are rows.
fn section(out: &mut String, title: &str, rows: &[&Element], columns: &[Column]) {
    if rows.is_empty() {
        return;
    }
    out.push_str(&format!("\n{title}\n"));
    for line in output::table(rows.iter().copied(), columns).lines() {
        out.push_str(&format!("  {line}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VM: &str = "<VM><ID>7</ID><UNAME>oneadmin</UNAME><GNAME>oneadmin</GNAME>\
        <NAME>web</NAME><STATE>3</STATE><LCM_STATE>3</LCM_STATE><STIME>1000</STIME>\
        <ETIME>0</ETIME><TEMPLATE><CPU>0.5</CPU><MEMORY>2048</MEMORY><DISK><DISK_ID>0</DISK_ID>\
        <IMAGE>debian</IMAGE><TARGET>vda</TARGET><SIZE>1024</SIZE></DISK><NIC><NIC_ID>0</NIC_ID>\
        <NETWORK>private</NETWORK><IP>10.0.0.2</IP><MAC>02:00:0a:00:00:02</MAC></NIC></TEMPLATE>\
        <HISTORY_RECORDS><HISTORY><SEQ>0</SEQ><HOSTNAME>old</HOSTNAME><ACTION>1</ACTION>\
        <STIME>1000</STIME><ETIME>2000</ETIME></HISTORY><HISTORY><SEQ>1</SEQ>\
        <HOSTNAME>node1</HOSTNAME><ACTION>0</ACTION><STIME>2000</STIME><ETIME>0</ETIME>\
        </HISTORY></HISTORY_RECORDS></VM>";

    #[test]
    fn list_cells() {
        let vm = Element::parse(VM).expect("parse");
        assert_eq!(host(&vm), "node1");
        assert_eq!(
            uptime(&vm, 1000 + 86_400 + 2 * 3600 + 3 * 60 + 59),
            "1d 02h03"
        );
        let row: Vec<String> = COLUMNS[4..8].iter().map(|c| c.cell.value(&vm)).collect();
        assert_eq!(row, ["runn", "0.5", "2G", "node1"]);
    }

    #[test]
    fn show_reads_like_onevm() {
        let vm = Element::parse(VM).expect("parse");
        let text = show(&vm);
        assert!(text.contains("STATE     : ACTIVE\n"), "{text}");
        assert!(text.contains("LCM_STATE : RUNNING\n"), "{text}");
        assert!(text.contains("HOST      : node1\n"), "{text}");
        assert!(text.contains("MEMORY    : 2G\n"), "{text}");
        assert!(
            text.contains("\nNICS\n  ID  NETWORK  IP        MAC\n"),
            "{text}"
        );
        assert!(text.contains("10.0.0.2"), "{text}");
        assert!(text.contains("\nDISKS\n"), "{text}");
        assert!(text.contains("migrate"), "{text}");
        assert!(text.contains("\nTEMPLATE\n  CPU=\"0.5\"\n"), "{text}");
    }
}
