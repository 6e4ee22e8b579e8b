//! End to end: a real `nubod` on a free port, driven by the built `nubo` binary (see
//! [`common`]): users, groups, ACLs, hosts, clusters, datastores, images, networks, errors.

mod common;

use common::{Server, created, items, json, row};

#[test]
fn users_groups_acls_hosts_and_clusters() {
    let s = Server::start();
    let uid = created(&s.ok(&["user", "create", "alice", "secret"]));
    let gid = created(&s.ok(&["group", "create", "devs"]));
    assert!(gid >= 100);
    s.ok(&["user", "addgroup", "alice", "devs"]);
    let users = s.ok(&["user", "list"]);
    assert!(users.starts_with("ID"), "{users}");
    assert_eq!(row(&users, "alice")[0], uid.to_string());
    let doc = json(&s, &["user", "show", "alice"]);
    assert_eq!(doc["USER"]["NAME"], "alice");
    assert_eq!(
        doc["USER"]["GROUPS"]["ID"],
        serde_json::json!(["1", gid.to_string()])
    );

    let rule = created(&s.ok(&["acl", "create", "@100 VM+IMAGE/* CREATE *"]));
    let acls = s.ok(&["acl", "list"]);
    let rule_id = rule.to_string();
    assert_eq!(
        row(&acls, "VM+IMAGE/*")[..4],
        [rule_id.as_str(), "@100", "VM+IMAGE/*", "CREATE"]
    );
    s.ok(&["acl", "delete", &rule_id]);
    let acls = s.ok(&["acl", "list"]);
    assert!(
        acls.lines()
            .all(|l| l.split_whitespace().next() != Some(rule_id.as_str())),
        "{acls}"
    );

    let hid = created(&s.ok(&["host", "create", "node1", "--im", "dummy", "--vm", "dummy"]));
    // --im defaults to --vm; --hostd says where the host's agent listens.
    let agent = created(&s.ok(&[
        "host",
        "create",
        "node9",
        "--vm",
        "dummy",
        "--hostd",
        "http://10.0.0.9:2634",
    ]));
    let shown = s.ok(&["host", "show", &agent.to_string(), "--json"]);
    assert!(shown.contains("\"IM_MAD\": \"dummy\""), "{shown}");
    assert!(shown.contains("http://10.0.0.9:2634"), "{shown}");
    s.ok(&["host", "delete", "node9"]);
    let cid = created(&s.ok(&["cluster", "create", "edge"]));
    s.ok(&["cluster", "addhost", "edge", "node1"]);
    s.ok(&["host", "disable", "node1"]);
    let hosts = s.ok(&["host", "list"]);
    let host = row(&hosts, "node1");
    assert_eq!(host[0], hid.to_string());
    assert_eq!(host[2], "edge");
    assert_eq!(host.last(), Some(&"DISABLED"));
    let clusters = json(&s, &["cluster", "list"]);
    let edge = items(&clusters, "CLUSTER_POOL", "CLUSTER")
        .into_iter()
        .find(|c| c["NAME"] == "edge")
        .expect("cluster edge listed");
    assert_eq!(edge["ID"], cid.to_string());
    assert_eq!(edge["HOSTS"]["ID"], hid.to_string());
    s.ok(&["host", "rename", "node1", "node2"]);
    assert!(s.ok(&["host", "show", &hid.to_string()]).contains("node2"));
    s.ok(&["host", "delete", "node2"]);
    assert!(!s.ok(&["host", "list"]).contains("node2"));

    let xml = s.ok(&["group", "show", "devs", "--xml"]);
    assert!(xml.starts_with("<GROUP>"), "{xml}");
}

#[test]
fn datastore_permissions_owner_and_templates() {
    let s = Server::start();
    s.ok(&["user", "create", "bob", "pw2"]);
    s.ok(&["group", "create", "ops"]);
    s.ok(&["datastore", "chmod", "default", "640"]);
    s.ok(&["datastore", "chown", "1", "bob", "ops"]);
    let ds = s.ok(&["datastore", "show", "1"]);
    assert!(ds.contains("PERMISSIONS : um- u-- ---"), "{ds}");
    assert!(ds.contains("UNAME       : bob"), "{ds}");
    assert!(ds.contains("GNAME       : ops"), "{ds}");
    s.ok(&["datastore", "chgrp", "1", "users"]);
    let doc = json(&s, &["datastore", "show", "1"]);
    assert_eq!(doc["DATASTORE"]["GNAME"], "users");
    assert_eq!(doc["DATASTORE"]["PERMISSIONS"]["GROUP_U"], "1");

    let file = s.file("note.tmpl", "NOTE=\"from a file\"\n");
    s.ok(&["datastore", "update", "1", &file, "--append"]);
    s.ok_with_stdin(
        &["datastore", "update", "1", "-", "--append"],
        "OTHER=\"from stdin\"\n",
    );
    let ds = s.ok(&["datastore", "show", "1"]);
    assert!(ds.contains("NOTE=\"from a file\""), "{ds}");
    assert!(ds.contains("OTHER=\"from stdin\""), "{ds}");
    assert!(ds.contains("DS_MAD=\"fs\""), "append keeps the rest: {ds}");
}

#[test]
fn errors_are_one_line_with_meaningful_exit_codes() {
    let s = Server::start();
    let err = s.fails(1, &["user", "show", "9"]);
    assert!(err.contains("[one.user.info]"), "{err}");
    let err = s.fails(1, &["image", "show", "no-such-image"]);
    assert!(err.contains("no image named"), "{err}");

    s.ok(&["user", "create", "carol", "pw3"]);
    let err = s.fails(
        1,
        &[
            "--user",
            "carol",
            "--password",
            "pw3",
            "host",
            "create",
            "h",
            "--im",
            "dummy",
            "--vm",
            "dummy",
        ],
    );
    assert!(err.contains("Not authorized"), "{err}");
    let err = s.fails(
        1,
        &["--user", "carol", "--password", "wrong", "user", "list"],
    );
    assert!(err.to_lowercase().contains("authenticat"), "{err}");

    s.fails(2, &["datastore", "chmod", "1", "999"]);
    s.fails(2, &["acl", "create", "@1 NOTAKIND/* USE"]);
    s.fails(2, &["user", "list", "--filter", "mine"]);
    let clap_error = s.run(&["user", "frobnicate"]);
    assert_eq!(clap_error.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&clap_error.stderr).contains("frobnicate"));
    let err = s.fails(1, &["datastore", "update", "1", "/no/such/file"]);
    assert!(err.contains("/no/such/file"), "{err}");

    let err = s.fails(
        3,
        &["--endpoint", "http://127.0.0.1:1/RPC2", "user", "list"],
    );
    assert!(err.contains("cannot reach"), "{err}");
    let out = s
        .command(&["user", "list"])
        .env("ONE_AUTH", s.dir.path().join("missing"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no credentials"));
}

#[test]
fn images() {
    let s = Server::start();
    let id = created(&s.ok(&[
        "image",
        "create",
        "--name",
        "scratch",
        "--datastore",
        "default",
        "--size",
        "16",
        "--type",
        "DATABLOCK",
    ]));
    let images = s.ok(&["image", "list"]);
    let image = row(&images, "scratch");
    assert_eq!(image[0], id.to_string());
    assert_eq!(&image[4..7], ["default", "16M", "DATABLOCK"]);
    s.ok(&["image", "persistent", "scratch"]);
    s.ok(&["image", "chtype", "scratch", "os"]);
    s.ok(&["image", "rename", "scratch", "root"]);
    let doc = json(&s, &["image", "show", &id.to_string()]);
    assert_eq!(doc["IMAGE"]["NAME"], "root");
    assert_eq!(doc["IMAGE"]["PERSISTENT"], "1");
    assert_eq!(doc["IMAGE"]["TYPE"], "0");
    assert_eq!(
        items(
            &json(&s, &["image", "list", "--filter", "mine"]),
            "IMAGE_POOL",
            "IMAGE"
        )
        .len(),
        1
    );
    s.ok(&["image", "lock", "root", "--level", "manage"]);
    let err = s.fails(1, &["image", "rename", "root", "other"]);
    assert!(err.contains("locked"), "{err}");
    s.ok(&["image", "unlock", "root"]);
    s.ok(&["image", "chmod", "root", "604"]);
    s.ok(&["image", "delete", "root"]);
}

#[test]
fn virtual_networks() {
    let s = Server::start();
    let file = s.file(
        "net.tmpl",
        "NAME=\"private\"\nVN_MAD=\"dummy\"\nBRIDGE=\"br0\"\nAR=[TYPE=\"IP4\", IP=\"10.0.0.1\", SIZE=\"10\"]\n",
    );
    let id = created(&s.ok(&["vnet", "create", &file]));
    s.ok(&[
        "vnet", "addar", "private", "--ip", "10.0.1.1", "--size", "5",
    ]);
    s.ok(&["vnet", "hold", "private", "10.0.0.2"]);
    let doc = json(&s, &["vnet", "show", &id.to_string()]);
    assert_eq!(items(&doc["VNET"], "AR_POOL", "AR").len(), 2);
    assert_eq!(doc["VNET"]["USED_LEASES"], "1");
    let nets = s.ok(&["vnet", "list"]);
    assert_eq!(row(&nets, "private")[0], id.to_string());
    s.ok(&["vnet", "release", "private", "10.0.0.2"]);
    s.ok(&["vnet", "rmar", "private", "1"]);
    let doc = json(&s, &["vnet", "show", "private"]);
    assert_eq!(items(&doc["VNET"], "AR_POOL", "AR").len(), 1);
    assert_eq!(doc["VNET"]["USED_LEASES"], "0");
    s.ok(&["vnet", "delete", "private"]);
}
