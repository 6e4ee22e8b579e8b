"""one.datastore.*, one.datastorepool.info"""

from onehelpers import (ACTION, ALLOCATE, AUTHENTICATION, AUTHORIZATION, INTERNAL, NO_EXISTS,
                        RPC_API, connect, id_list, ids, outsider, perms, tmpl, uniq)


def _image_ds(one, cluster=-1, name=None):
    name = name or uniq("ds")
    return one.datastore.allocate(
        f'NAME="{name}"\nTYPE="IMAGE_DS"\nDS_MAD="fs"\nTM_MAD="ssh"', cluster), name


def test_allocate_image_ds(one):
    ds, name = _image_ds(one)
    assert ds >= 100
    info = one.xml("datastore.info", ds)
    assert info.findtext("NAME") == name
    assert info.findtext("TYPE") == "0"
    assert info.findtext("DS_MAD") == "fs" and info.findtext("TM_MAD") == "ssh"
    assert info.findtext("STATE") == "0"
    assert info.findtext("UID") == "0" and info.findtext("UNAME") == "oneadmin"
    # semantics: cluster -1 puts the datastore in the default cluster
    assert id_list(info.find("CLUSTERS")) == [0]
    assert ds in id_list(one.xml("cluster.info", 0).find("DATASTORES"))
    assert one.datastore.info(ds).NAME == name


def test_allocate_in_cluster(one):
    cid = one.cluster.allocate(uniq("c"))
    ds, _ = _image_ds(one, cluster=cid)
    assert id_list(one.xml("datastore.info", ds).find("CLUSTERS")) == [cid]
    assert id_list(one.xml("cluster.info", cid).find("DATASTORES")) == [ds]


def test_allocate_errors(one, make_user):
    ds, name = _image_ds(one)
    # semantics: duplicate name / missing DS_MAD -> ALLOCATE (INTERNAL accepted)
    one.fails({ALLOCATE, INTERNAL}, "datastore.allocate",
              f'NAME="{name}"\nTYPE="IMAGE_DS"\nDS_MAD="fs"\nTM_MAD="ssh"', -1)
    one.fails({ALLOCATE, INTERNAL}, "datastore.allocate", f'NAME="{uniq("ds")}"\nTYPE="IMAGE_DS"', -1)
    one.fails(NO_EXISTS, "datastore.allocate",
              f'NAME="{uniq("ds")}"\nTYPE="IMAGE_DS"\nDS_MAD="fs"\nTM_MAD="ssh"', 99999)
    one.fails({ALLOCATE, INTERNAL}, "datastore.allocate", 'NAME="x\nTYPE=', -1)
    other = uniq("ds")
    make_user().one.fails(AUTHORIZATION, "datastore.allocate",
                          f'NAME="{other}"\nTYPE="IMAGE_DS"\nDS_MAD="fs"\nTM_MAD="ssh"', -1)
    connect(one.uri, "oneadmin:x").fails(AUTHENTICATION, "datastore.allocate",
                                         f'NAME="{other}"\nTYPE="IMAGE_DS"\nDS_MAD="fs"\nTM_MAD="ssh"', -1)
    names = [d.findtext("NAME") for d in one.xml("datastorepool.info").findall("DATASTORE")]
    assert names.count(name) == 1 and other not in names


def test_info_errors(one, make_user):
    one.fails(NO_EXISTS, "datastore.info", 99999)
    ds, _ = _image_ds(one)
    outsider(one, make_user, "DATASTORE").one.fails(AUTHORIZATION, "datastore.info", ds)
    # the default VDC (@1 DATASTORE/* USE #0) lets users see every datastore
    assert make_user().one.xml("datastore.info", ds).findtext("ID") == str(ds)
    connect(one.uri, "a:b").fails(AUTHENTICATION, "datastore.info", 0)


def test_enable_system_ds(one, make_user):
    ds = one.datastore.allocate(f'NAME="{uniq("sys")}"\nTYPE="SYSTEM_DS"\nTM_MAD="ssh"', -1)
    info = one.xml("datastore.info", ds)
    assert info.findtext("TYPE") == "1" and info.findtext("STATE") == "0"
    one.datastore.enable(ds, False)
    assert one.xml("datastore.info", ds).findtext("STATE") == "1"
    make_user().one.fails(AUTHORIZATION, "datastore.enable", ds, True)
    assert one.xml("datastore.info", ds).findtext("STATE") == "1"
    one.datastore.enable(ds, True)
    assert one.xml("datastore.info", ds).findtext("STATE") == "0"
    one.fails(NO_EXISTS, "datastore.enable", 99999, False)


def test_enable_image_ds_rejected(one):
    # oned: "Only SYSTEM_DS can be disabled or enabled"
    ds, _ = _image_ds(one)
    # semantics: the error class is ACTION or INTERNAL
    msg = one.fails({ACTION, INTERNAL}, "datastore.enable", ds, False)
    assert "SYSTEM_DS" in msg
    assert one.xml("datastore.info", ds).findtext("STATE") == "0"


def test_update_rename(one, make_user):
    ds, _ = _image_ds(one)
    one.datastore.update(ds, 'LABEL="fast"', 1)
    info = one.xml("datastore.info", ds)
    assert tmpl(info, "LABEL") == "fast" and tmpl(info, "DS_MAD") == "fs"
    one.fails(RPC_API, "datastore.update", ds, 'A="1"', 2)
    one.fails(NO_EXISTS, "datastore.update", 99999, 'A="1"', 1)
    make_user().one.fails(AUTHORIZATION, "datastore.update", ds, 'A="1"', 1)
    new = uniq("dsr")
    one.datastore.rename(ds, new)
    assert one.xml("datastore.info", ds).findtext("NAME") == new
    one.fails(ACTION, "datastore.rename", ds, "default")
    one.fails(NO_EXISTS, "datastore.rename", 99999, uniq("x"))


def test_chmod_chown(one, make_user):
    ds, _ = _image_ds(one)
    u = make_user()
    one.datastore.chmod(ds, 1, 1, 1, 1, 0, 0, 1, 0, 0)
    assert perms(one.xml("datastore.info", ds)) == (1, 1, 1, 1, 0, 0, 1, 0, 0)
    one.datastore.chmod(ds, -1, -1, 0, -1, -1, -1, 0, -1, -1)
    assert perms(one.xml("datastore.info", ds)) == (1, 1, 0, 1, 0, 0, 0, 0, 0)
    one.datastore.chown(ds, u.id, -1)
    info = one.xml("datastore.info", ds)
    assert int(info.findtext("UID")) == u.id and info.findtext("UNAME") == u.name
    assert info.findtext("GID") == "0"
    one.datastore.chown(ds, -1, 1)
    info = one.xml("datastore.info", ds)
    assert info.findtext("GID") == "1" and info.findtext("GNAME") == "users"
    one.fails(NO_EXISTS, "datastore.chown", ds, 99999, -1)
    one.fails(NO_EXISTS, "datastore.chown", ds, -1, 99999)
    one.fails(NO_EXISTS, "datastore.chmod", 99999, 1, 1, 1, 1, 1, 1, 1, 1, 1)
    other = make_user()
    other.one.fails(AUTHORIZATION, "datastore.chmod", ds, 1, 1, 1, 1, 1, 1, 1, 1, 1)
    other.one.fails(AUTHORIZATION, "datastore.chown", ds, other.id, -1)
    assert int(one.xml("datastore.info", ds).findtext("UID")) == u.id


def test_delete(one, make_user):
    ds, _ = _image_ds(one)
    make_user().one.fails(AUTHORIZATION, "datastore.delete", ds)
    one.datastore.delete(ds)
    one.fails(NO_EXISTS, "datastore.info", ds)
    assert ds not in ids(one.xml("datastorepool.info"), "DATASTORE")
    assert ds not in id_list(one.xml("cluster.info", 0).find("DATASTORES"))
    one.fails(NO_EXISTS, "datastore.delete", ds)


def test_delete_with_images_rejected(one):
    ds, _ = _image_ds(one)
    img = one.image.allocate(f'NAME="{uniq("i")}"\nTYPE="DATABLOCK"\nSIZE="1"', ds)
    # semantics: a datastore holding images cannot be deleted -> ACTION
    one.fails(ACTION, "datastore.delete", ds)
    assert img in id_list(one.xml("datastore.info", ds).find("IMAGES"))


def test_pool(one, make_user):
    ds, _ = _image_ds(one)
    got = ids(one.xml("datastorepool.info"), "DATASTORE")
    assert {0, 1, 2, ds} <= set(got) and got == sorted(got)
    assert ids(one.xml("datastorepool.info", -2, -1, -1), "DATASTORE") == got
    connect(one.uri, "a:b").fails(AUTHENTICATION, "datastorepool.info")
    # a user outside the default VDC does not see oneadmin's datastores; one in it does
    assert ds not in ids(outsider(one, make_user, "DATASTORE").one.xml("datastorepool.info"), "DATASTORE")
    assert ds in ids(make_user().one.xml("datastorepool.info"), "DATASTORE")
