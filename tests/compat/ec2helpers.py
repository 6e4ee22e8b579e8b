"""A nubod serving the EC2 API, a small cloud behind it (a simulated host, a network, an
OS image, two instance types), users with EC2 access keys made by the `nubo` CLI, and
clients: boto3 and the aws CLI, both real."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

from onehelpers import Nubod, free_port, uniq, wait_for

REGION = "nubo"


@dataclass
class Ec2User:
    uid: int
    name: str
    password: str
    access_key_id: str
    secret: str


def boto3_for_new_user(d, url: str, prefix: str = "ec2u"):
    """A new user of nubod `d` (group users) with an EC2 access key made by oneadmin, and a
    boto3 EC2 client signing as that user at `url`."""
    from onehelpers import raw_call
    one = d.admin()
    uid = one.user.allocate(uniq(prefix), "pw-" + uniq("p"), "core", [])
    ret = raw_call(d.endpoint, "one.user.ec2keycreate", d.admin_session, uid)
    assert ret[0] is True, ret
    akid = ret[1].split("<ACCESS_KEY_ID>")[1].split("<")[0]
    secret = ret[1].split("<SECRET_ACCESS_KEY>")[1].split("<")[0]
    return boto3.client("ec2", endpoint_url=url, region_name=REGION, aws_access_key_id=akid,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))


class Ec2Cloud:
    def __init__(self, tmp: Path):
        self.ec2_port = free_port()
        self.nubod = Nubod(extra_args=["--ec2", f"127.0.0.1:{self.ec2_port}"]).start()
        self.tmp = tmp
        self.url = f"http://127.0.0.1:{self.ec2_port}"
        one = self.one = self.nubod.admin()
        self.host = one.host.allocate(uniq("ec2h"), "dummy", "dummy", -1)
        wait_for(lambda: one.host.info(self.host).STATE == 2, what="host MONITORED")
        self.vnet = one.vn.allocate(
            f'NAME="{uniq("ec2net")}"\nBRIDGE="br-ec2"\nVN_MAD="dummy"\n'
            'AR=[TYPE="IP4", IP="10.77.0.10", SIZE="200"]', -1)
        one.vn.chmod(self.vnet, 1, 1, 0, 1, 0, 0, 1, 0, 0)
        # Elastic IPs come from a network marked EC2_ELASTIC_IPS.
        self.public = one.vn.allocate(
            f'NAME="{uniq("ec2pub")}"\nBRIDGE="br-pub"\nVN_MAD="dummy"\nEC2_ELASTIC_IPS="YES"\n'
            'AR=[TYPE="IP4", IP="203.0.113.10", SIZE="3"]', -1)
        one.vn.chmod(self.public, 1, 1, 0, 1, 0, 0, 1, 0, 0)
        # Users keep volumes and snapshots in the default image datastore.
        one.datastore.chmod(1, 1, 1, 0, 1, 0, 0, 1, 0, 0)
        disk = tmp / "os.img"
        disk.write_bytes(b"\0" * 1024 * 1024)
        self.image = one.image.allocate(f'NAME="{uniq("ec2os")}"\nTYPE="OS"\nPATH="{disk}"', 1)
        wait_for(lambda: one.image.info(self.image).STATE == 1, what="image READY")
        one.image.chmod(self.image, 1, 1, 0, 1, 0, 0, 1, 0, 0)
        self.small = one.template.allocate(
            f'NAME="{uniq("m1small")}"\nCPU="0.5"\nMEMORY="128"\nEC2_INSTANCE_TYPE="m1.small"\n'
            f'NIC=[NETWORK_ID="{self.vnet}"]\nCONTEXT=[NETWORK="YES",TOKEN="YES"]\n'
            f'SCHED_REQUIREMENTS="ID = {self.host}"')
        self.large = one.template.allocate(
            f'NAME="{uniq("m1large")}"\nCPU="2"\nVCPU="2"\nMEMORY="1024"\nEC2_INSTANCE_TYPE="m1.large"\n'
            f'SCHED_REQUIREMENTS="ID = {self.host}"')
        for t in (self.small, self.large):
            one.template.chmod(t, 1, 1, 0, 1, 0, 0, 1, 0, 0)

    def nubo(self, session: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        user, password = session.split(":", 1)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ONE_", "AWS_"))}
        env["ONE_XMLRPC"] = self.nubod.endpoint
        p = subprocess.run([str(self.nubod.binary.parent / "nubo"), "--user", user,
                            "--password", password, *args],
                           capture_output=True, text=True, timeout=60, env=env,
                           stdin=subprocess.DEVNULL)
        if check:
            assert p.returncode == 0, f"nubo {' '.join(args)} -> {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p

    def new_key(self, session: str, *flags: str) -> tuple[str, str]:
        out = json.loads(self.nubo(session, "ec2-key", "create", "--json", *flags).stdout)
        key = out["EC2_KEY"]
        return key["ACCESS_KEY_ID"], key["SECRET_ACCESS_KEY"]

    def user(self) -> Ec2User:
        name, password = uniq("ec2u"), "pw-" + uniq("p")
        uid = self.one.user.allocate(name, password, "core", [])
        akid, secret = self.new_key(f"{name}:{password}")
        return Ec2User(uid, name, password, akid, secret)

    def client(self, user: Ec2User | None = None, akid: str | None = None,
               secret: str | None = None, **config):
        return boto3.client(
            "ec2", endpoint_url=self.url, region_name=config.pop("region", REGION),
            aws_access_key_id=akid or user.access_key_id,
            aws_secret_access_key=secret or user.secret,
            config=Config(retries={"max_attempts": 1}, **config))

    def aws(self, user: Ec2User, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({
            "AWS_ACCESS_KEY_ID": user.access_key_id, "AWS_SECRET_ACCESS_KEY": user.secret,
            "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL_EC2": self.url,
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_MAX_ATTEMPTS": "1",
        })
        exe = Path(os.sys.executable).parent / "aws"
        p = subprocess.run([str(exe), "ec2", *args, "--output", "json"], capture_output=True,
                           text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)
        if check:
            assert p.returncode == 0, f"aws ec2 {' '.join(args)} -> {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p

    def stop(self):
        self.nubod.stop()
