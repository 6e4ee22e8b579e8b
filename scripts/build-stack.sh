#!/usr/bin/env bash
# Builds Nubo's Debian 12 container stack from Debian packages only: a bookworm root
# filesystem (variant minbase) with python3, python3-venv, nodejs, npm, tini and
# ca-certificates, for containers run with runc and as the PaaS base. It is made with
# mmdebstrap into a temporary directory, then packed into an ext4 filesystem image (not a
# partitioned disk) that can be loop-mounted read-only and used as a container's lower layer.
#
#   scripts/build-stack.sh [OUT_DIR]      (default: target/stack)
#
# The image's /sbin/init (made below) is tini as PID 1 over a small sh loop: it exports the
# context's variables, runs START_SCRIPT (or START_SCRIPT_BASE64) once, prints
# "nubo-init: ready" and waits; SIGTERM ends it with status 0.
#
# Writes OUT_DIR/debian-12.raw (ext4, label debian-12, no journal: it is meant to be mounted
# read-only), OUT_DIR/debian-12.sha256 (sha256sum -c format, run it inside OUT_DIR) and
# OUT_DIR/.stamp. Runs as root (mmdebstrap --mode=root, so every file in the image is owned
# by uid 0 and device nodes can be made). Needs mmdebstrap and e2fsprogs (mke2fs), and
# network access to deb.debian.org (the same mirrors as the machine's apt sources). Rebuilds
# only when this script changed since the last build. A build takes about 2 minutes and
# makes a 560 MiB image (about 400 MiB used, 34000 files; npm is 170 MiB of it).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../target/stack}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
stamp="$(sha256sum "$0" | cut -c1-16)"
if [ -f "$out/debian-12.raw" ] && [ -f "$out/debian-12.sha256" ] \
   && [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "container stack up to date in $out"
  exit 0
fi
for tool in mmdebstrap mke2fs sha256sum; do
  command -v "$tool" >/dev/null || {
    echo "missing $tool (apt-get install mmdebstrap e2fsprogs)" >&2
    exit 1
  }
done
merged_usr_hooks=/usr/share/mmdebstrap/hooks/merged-usr
[ -d "$merged_usr_hooks" ] || { echo "missing $merged_usr_hooks (apt-get install mmdebstrap)" >&2; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
  echo "build-stack.sh runs as root (mmdebstrap --mode=root; the image's files must be owned by uid 0)" >&2
  exit 1
fi

work="$(mktemp -d)"
chmod 755 "$work"   # apt downloads as _apt, which must reach the root's lists directory
cleanup() {
  # mmdebstrap unmounts what it mounted in the root, even on failure; make sure nothing is
  # still mounted under $work before removing it, and never cross into another filesystem.
  awk -v w="$work/" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
start=$SECONDS

# Packages beyond minbase (which already has coreutils, bash, dpkg, apt):
#   python3, python3-venv, nodejs, npm  the runtimes the PaaS serves;
#   tini                                 a tiny init for PID 1 (reaps zombies, forwards signals);
#   ca-certificates                      TLS from inside the container (pip, npm, apps);
#   netbase                              /etc/services and /etc/protocols (getaddrinfo with
#                                        service names, Python's socket.getservbyname); ~50 kB;
#   procps                               ps, top, kill, pkill for `runc exec` debugging and
#                                        scripts that call them; ~1 MB;
#   busybox                              one ~1 MB binary with wget, nc, ping, ip, vi, used as
#                                        `busybox ip` etc. (no applet links are installed).
# Left out: iproute2 (several MB with libbpf, libelf, libxtables; runc configures the
# network from the outside and `busybox ip` covers looking at it inside), systemd and any
# init system. (tzdata is in: it is Priority required in bookworm, so minbase has it.)
# npm is the big one: Debian's npm depends on ~335 node-* packages, node-gyp, libnode-dev and
# libssl-dev, about 170 MB and 27000 files of the image.
packages="python3,python3-venv,nodejs,npm,tini,ca-certificates,netbase,procps,busybox"

# dpkg skips docs, man and info pages and translations, here and in any later install in the
# container (the options stay in /etc/dpkg/dpkg.cfg.d/99mmdebstrap); the copyright files
# stay, for the licences.
dpkgopts=(
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/lintian/*'
)

# Container-friendly: the host's hostname and resolv.conf (mmdebstrap copies both in for the
# build) are replaced by a placeholder hostname and an empty, plain resolv.conf that the
# runtime bind-mounts over; apt's package lists and caches, logs and backup files go.
# (mmdebstrap's own clean-up of the package lists and the apt cache is skipped: in root
# mode here it emptied the HOST's /var/lib/apt/lists — later `apt-get download`s on the
# machine then found no package. The root's own are removed by a hook instead.)
# mmdebstrap's merged-usr hook makes the /usr symlinks itself and installs usr-is-merged:
# without it the essential init-system-helpers ("usrmerge | usr-is-merged") brings in
# usrmerge and with it perl (~55 MB).
# /sbin/init: the container's init when a VM sets no OS/INIT. tini runs as PID 1 (it reaps
# zombies and turns SIGTERM into the end of the container) over a small sh loop that reads
# the context (/context/context.sh, every variable exported), runs its START_SCRIPT (or
# START_SCRIPT_BASE64) once as OpenNebula's one-context does, says "nubo-init: ready" on
# the console and waits; SIGTERM or SIGINT end it with status 0.
cat > "$work/init" <<'INIT'
#!/bin/sh
# nubo-init (installed by Nubo's scripts/build-stack.sh): tini as PID 1 over this script.
if [ "$$" = 1 ] && [ -z "${NUBO_INIT_CHILD:-}" ] && command -v tini >/dev/null 2>&1; then
  NUBO_INIT_CHILD=1 exec tini -- /bin/sh "$0" "$@"
fi
unset NUBO_INIT_CHILD
trap 'exit 0' TERM INT
if [ -r /context/context.sh ]; then
  set -a
  . /context/context.sh
  set +a
fi
if [ -n "${START_SCRIPT_BASE64:-}" ] || [ -n "${START_SCRIPT:-}" ]; then
  script="$(mktemp /tmp/nubo-start-script.XXXXXX)"
  if [ -n "${START_SCRIPT_BASE64:-}" ]; then
    printf '%s' "$START_SCRIPT_BASE64" | base64 -d > "$script"
  else
    printf '%s\n' "$START_SCRIPT" > "$script"
  fi
  chmod 700 "$script"
  echo "nubo-init: running START_SCRIPT"
  if head -c 2 "$script" | grep -q '^#!'; then
    (cd /tmp && "$script")
  else
    (cd /tmp && /bin/sh "$script")
  fi
  echo "nubo-init: START_SCRIPT exited $?"
fi
echo "nubo-init: ready"
while :; do
  sleep 2147483647 &
  wait $! || true
done
INIT

root="$work/root"
mmdebstrap --mode=root --variant=minbase --include="$packages" "${dpkgopts[@]}" \
  --skip=cleanup/apt/lists,cleanup/apt/cache \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb' \
  --hook-dir="$merged_usr_hooks" \
  --customize-hook='rm -f "$1/etc/hostname" && echo localhost > "$1/etc/hostname"' \
  --customize-hook='rm -f "$1/etc/resolv.conf" && : > "$1/etc/resolv.conf"' \
  --customize-hook="install -m 755 '$work/init' \"\$1/sbin/init\"" \
  --customize-hook='rm -rf "$1"/var/log/apt/* "$1"/var/log/*.log "$1"/var/cache/debconf/*-old "$1"/var/lib/dpkg/*-old "$1"/tmp/* "$1"/root/.cache' \
  bookworm "$root" \
  "deb http://deb.debian.org/debian bookworm main" \
  "deb http://deb.debian.org/debian bookworm-updates main" \
  "deb http://deb.debian.org/debian-security bookworm-security main"

# Size: the content as du counts it (4 KiB blocks), plus 25 % and 64 MiB, rounded up to
# 16 MiB; inodes: the files plus 25 % and 1024 (npm's node modules are many small files, more
# than mke2fs's default ratio would give a filesystem this size). -T default and -b 4096
# keep mke2fs from picking its "small" 1 KiB-block layout; -m 0 reserves nothing for root.
content_mb="$(du -s -x --block-size=1M "$root" | cut -f1)"
files="$(find "$root" -xdev | wc -l)"
size_mb=$(( (content_mb + content_mb / 4 + 64 + 15) / 16 * 16 ))
inodes=$(( files + files / 4 + 1024 ))
rm -f "$out/debian-12.raw.new"
mke2fs -q -F -t ext4 -T default -b 4096 -O ^has_journal -m 0 -N "$inodes" \
  -L debian-12 -d "$root" "$out/debian-12.raw.new" "${size_mb}M" >/dev/null

mv "$out/debian-12.raw.new" "$out/debian-12.raw"
(cd "$out" && sha256sum debian-12.raw > debian-12.sha256)
echo "$stamp" > "$out/.stamp"
echo "container stack built in $out in $(( SECONDS - start ))s: debian-12.raw ${size_mb} MiB" \
  "(content ${content_mb} MiB, ${files} files, $(du -h "$out/debian-12.raw" | cut -f1) on disk)"
