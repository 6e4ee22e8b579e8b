#!/usr/bin/env bash
# Builds Nubo's test guest from Debian packages only: the Debian cloud kernel and a busybox
# initramfs whose /init reads the VM's context (an OpenNebula CONTEXT cdrom or a cloud-init
# NoCloud seed), configures eth0, answers HTTP on port 80 and powers off on ACPI. Kernel
# command line switches: guest.mode=poweroff (power off once ready), guest.acpi=ignore (no
# acpid: the power button does nothing).
#
#   scripts/build-test-guest.sh [OUT_DIR]      (default: target/test-guest)
#
# Writes OUT_DIR/vmlinuz and OUT_DIR/initramfs.gz (for direct kernel boot) and
# OUT_DIR/nubo-test-guest.qcow2, a disk image that boots the same guest from its own disk
# (FAT + syslinux), to import as an OS image. Needs apt-get (to download, not install, the
# kernel package), dpkg-deb, busybox-static, cpio, kmod, and for the disk image syslinux,
# mtools, dosfstools and qemu-img. Rebuilds only when this script changed since the last
# build.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../target/test-guest}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
stamp="$(sha256sum "$0" | cut -c1-16)"
if [ -f "$out/vmlinuz" ] && [ -f "$out/initramfs.gz" ] && [ -f "$out/nubo-test-guest.qcow2" ] \
   && [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "test guest up to date in $out"
  exit 0
fi
for tool in busybox cpio depmod modprobe dpkg-deb apt-get syslinux mcopy mkfs.fat qemu-img; do
  command -v "$tool" >/dev/null || {
    echo "missing $tool (apt-get install busybox-static cpio kmod syslinux mtools dosfstools qemu-utils)" >&2
    exit 1
  }
done
busybox_bin="$(command -v busybox)"
case "$(ldd "$busybox_bin" 2>&1 || true)" in
  *"not a dynamic"*) ;;
  *) echo "busybox is not static (apt-get install busybox-static)" >&2; exit 1 ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The kernel: the newest linux-image-*-cloud-amd64 the package index knows. The package
# lists may be gone (apt-cache may still answer from its cache, apt-get download then finds
# nothing, and may say so yet succeed: the .deb decides): then they are fetched again, once.
kernel_package() {
  { apt-cache depends linux-image-cloud-amd64 2>/dev/null || true; } \
    | awk '/Depends: linux-image-/ {print $2; exit}'
}
download() {
  [ -n "$kpkg" ] && (cd "$work" && apt-get download -qq -o APT::Sandbox::User=root "$kpkg") \
    && ls "$work"/"$kpkg"_*.deb >/dev/null 2>&1
}
kpkg="$(kernel_package)"
if ! download; then
  echo "no kernel package from the package lists; updating them and trying again" >&2
  apt-get update -qq
  kpkg="$(kernel_package)"
  [ -n "$kpkg" ] || { echo "no linux-image-cloud-amd64 in the package index" >&2; exit 1; }
  download
fi
dpkg-deb -x "$work"/"$kpkg"_*.deb "$work/k"
kver="$(ls "$work/k/lib/modules")"
depmod -b "$work/k" "$kver"
cp "$work/k/boot/vmlinuz-$kver" "$out/vmlinuz.new"

# The initramfs.
root="$work/root"
mkdir -p "$root"/{bin,sbin,etc/acpi/PWRF,proc,sys,dev,tmp,mnt,run,root/.ssh,www,lib/modules}
cp "$busybox_bin" "$root/bin/busybox"
for applet in $("$busybox_bin" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
ln -sf ../bin/busybox "$root/sbin/init"

# Modules: virtio devices, the cdrom and its filesystem, the power button.
wanted="virtio_pci virtio_blk virtio_net virtio_scsi sr_mod isofs vfat evdev button"
mods="$root/lib/modules/$kver"
mkdir -p "$mods"
: > "$work/load-order"
for m in $wanted; do
  modprobe -d "$work/k" -S "$kver" --show-depends "$m" 2>/dev/null | awk '$1 == "insmod" {print $2}' >> "$work/load-order" || true
done
: > "$root/etc/modules"
while read -r ko; do
  name="$(basename "$ko")"
  if ! grep -qx "$name" "$root/etc/modules"; then
    cp "$ko" "$mods/$name"
    echo "$name" >> "$root/etc/modules"
  fi
done < "$work/load-order"

cat > "$root/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
echo GUEST-ACPI-POWERDOWN > /dev/console
sync
poweroff -f
EOF
chmod +x "$root/etc/acpi/PWRF/00000080"

cat > "$root/init" <<'EOF'
#!/bin/sh
# Nubo test guest. Prints GUEST-UP, reads the context, configures eth0, serves HTTP on :80,
# prints GUEST-READY, then keeps a shell on the serial console.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mkdir -p /var/run /var/log
echo "GUEST-UP $(cut -d' ' -f1 /proc/uptime)"
for ko in $(cat /etc/modules); do insmod "/lib/modules/$(uname -r)/$ko" 2>/dev/null; done
mdev -s 2>/dev/null

# Context: an ISO9660 labelled CONTEXT (OpenNebula) or CIDATA (cloud-init NoCloud).
ctx=""
for i in 1 2 3 4 5 6 7 8 9 10; do
  for dev in /dev/sr0 /dev/sr1 /dev/vdb /dev/vdc /dev/vdd; do
    [ -b "$dev" ] || continue
    mkdir -p /mnt/ctx
    if mount -t iso9660 -o ro "$dev" /mnt/ctx 2>/dev/null; then
      if [ -f /mnt/ctx/context.sh ]; then ctx=one; break 2; fi
      if [ -f /mnt/ctx/meta-data ]; then ctx=nocloud; break 2; fi
      umount /mnt/ctx
    fi
  done
  sleep 0.2
done

mac_of() { cat "/sys/class/net/$1/address" 2>/dev/null; }
mask_bits() {
  case "$1" in
    */*) echo "${1#*/}" ;;
    "") echo 24 ;;
    *) n=0; for o in $(echo "$1" | tr . ' '); do
         case $o in 255) n=$((n+8));; 254) n=$((n+7));; 252) n=$((n+6));; 248) n=$((n+5));;
                     240) n=$((n+4));; 224) n=$((n+3));; 192) n=$((n+2));; 128) n=$((n+1));; esac
       done; echo $n ;;
  esac
}

ip link set lo up
if [ "$ctx" = one ]; then
  echo "GUEST-CONTEXT one"
  . /mnt/ctx/context.sh
  # Each ETHn_MAC names the interface with that address.
  for n in 0 1 2 3 4 5 6 7; do
    eval mac=\"\$ETH${n}_MAC\" ip=\"\$ETH${n}_IP\" mask=\"\$ETH${n}_MASK\" gw=\"\$ETH${n}_GATEWAY\"
    [ -n "$mac" ] || continue
    for path in /sys/class/net/*; do
      dev="${path##*/}"
      [ "$(mac_of "$dev")" = "$mac" ] || continue
      ip link set "$dev" up
      if [ -n "$ip" ]; then
        ip addr add "$ip/$(mask_bits "$mask")" dev "$dev"
        [ -n "$gw" ] && ip route add default via "$gw" dev "$dev" 2>/dev/null
        echo "GUEST-NET $dev $ip/$(mask_bits "$mask") mac=$mac"
      fi
    done
  done
  [ -n "$SET_HOSTNAME" ] && hostname "$SET_HOSTNAME"
  [ -n "$HOSTNAME" ] && hostname "$HOSTNAME"
  if [ -n "$SSH_PUBLIC_KEY" ]; then
    printf '%s\n' "$SSH_PUBLIC_KEY" > /root/.ssh/authorized_keys
    echo "GUEST-SSH-KEY $(head -c 60 /root/.ssh/authorized_keys)"
  fi
  cp /mnt/ctx/context.sh /www/context.sh
elif [ "$ctx" = nocloud ]; then
  echo "GUEST-CONTEXT nocloud"
  cp /mnt/ctx/meta-data /www/meta-data
  [ -f /mnt/ctx/user-data ] && cp /mnt/ctx/user-data /www/user-data
  [ -f /mnt/ctx/network-config ] && cp /mnt/ctx/network-config /www/network-config
  h="$(sed -n 's/^local-hostname: *//p' /mnt/ctx/meta-data | tr -d '"')"
  [ -n "$h" ] && hostname "$h"
  # network-config (version 2 or 1): the first address and gateway given, on the first NIC
  # whose MAC matches, else on eth0.
  if [ -f /mnt/ctx/network-config ]; then
    addr="$(sed -n 's/^ *- *\([0-9.]*\/[0-9]*\) *$/\1/p; s/^ *address: *\([0-9.]*\/[0-9]*\).*/\1/p' /mnt/ctx/network-config | head -n1)"
    gw="$(sed -n 's/^ *gateway4\{0,1\}: *\([0-9.]*\).*/\1/p' /mnt/ctx/network-config | head -n1)"
    mac="$(sed -n 's/^ *macaddress: *"\{0,1\}\([0-9a-f:]*\)"\{0,1\}.*/\1/p; s/^ *mac_address: *"\{0,1\}\([0-9a-f:]*\)"\{0,1\}.*/\1/p' /mnt/ctx/network-config | head -n1)"
    dev=eth0
    for path in /sys/class/net/*; do
      [ -n "$mac" ] && [ "$(mac_of "${path##*/}")" = "$mac" ] && dev="${path##*/}"
    done
    ip link set "$dev" up
    if [ -n "$addr" ]; then
      ip addr add "$addr" dev "$dev"
      [ -n "$gw" ] && ip route add default via "$gw" dev "$dev" 2>/dev/null
      echo "GUEST-NET $dev $addr mac=$(mac_of "$dev")"
    fi
  fi
  key="$(sed -n 's/^ *- *\(ssh-[a-z0-9-]* .*\)$/\1/p' /mnt/ctx/user-data /mnt/ctx/meta-data 2>/dev/null | head -n1)"
  if [ -n "$key" ]; then
    printf '%s\n' "$key" > /root/.ssh/authorized_keys
    echo "GUEST-SSH-KEY $(head -c 60 /root/.ssh/authorized_keys)"
  fi
else
  echo "GUEST-CONTEXT none"
  for path in /sys/class/net/eth*; do
    [ -e "$path" ] || continue
    ip link set "${path##*/}" up
    udhcpc -q -n -t 3 -i "${path##*/}" >/dev/null 2>&1 && echo "GUEST-NET ${path##*/} dhcp"
  done
fi
[ "$ctx" ] && umount /mnt/ctx 2>/dev/null

echo "nubo-test-guest $(hostname)" > /www/index.html
cp /root/.ssh/authorized_keys /www/authorized_keys 2>/dev/null
httpd -p 80 -h /www
if grep -q 'guest.acpi=ignore' /proc/cmdline; then
  echo "GUEST-IGNORES-ACPI"
else
  acpid -c /etc/acpi -l /tmp/acpid.log || echo "GUEST-NO-ACPID"
fi
echo "GUEST-READY $(cut -d' ' -f1 /proc/uptime)"
if grep -q 'guest.mode=poweroff' /proc/cmdline; then poweroff -f; fi
exec setsid cttyhack sh -l
EOF
chmod +x "$root/init"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -9 > "$out/initramfs.gz.new"

# The disk image: an unpartitioned FAT filesystem whose boot sector is syslinux's, holding
# the kernel, the initramfs and the kernel command line; the BIOS boots it as a disk.
fat="$work/disk.img"
kb=$(( ($(stat -c %s "$out/vmlinuz.new") + $(stat -c %s "$out/initramfs.gz.new")) / 1024 + 2048 ))
mkfs.fat -C -n NUBOGUEST "$fat" "$kb" >/dev/null
cat > "$work/syslinux.cfg" <<'CFG'
DEFAULT nubo
PROMPT 0
TIMEOUT 0
LABEL nubo
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND console=ttyS0 quiet no_timer_check panic=-1
CFG
mcopy -i "$fat" "$out/vmlinuz.new" ::vmlinuz
mcopy -i "$fat" "$out/initramfs.gz.new" ::initrd.gz
mcopy -i "$fat" "$work/syslinux.cfg" ::syslinux.cfg
syslinux --install "$fat"
qemu-img convert -q -O qcow2 "$fat" "$out/nubo-test-guest.qcow2.new"

mv "$out/vmlinuz.new" "$out/vmlinuz"
mv "$out/initramfs.gz.new" "$out/initramfs.gz"
mv "$out/nubo-test-guest.qcow2.new" "$out/nubo-test-guest.qcow2"
echo "$stamp" > "$out/.stamp"
echo "test guest built in $out (kernel $kver, $(wc -l < "$root/etc/modules") modules)"
