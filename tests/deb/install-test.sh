#!/bin/sh
# Installs the replmon package in a clean Debian bookworm tree and checks it as an admin would:
#   tests/deb/install-test.sh ROOT DEB_DIR      (make deb-test: build/deb-root build/deb)
# ROOT/bookworm is a minbase debootstrap tree with systemd (for systemd-analyze), built once
# and kept until make clean. Each run works in fresh copies of it, so that the package's
# dependencies are never there beforehand: ROOT/run, where the package is installed, checked
# and purged, and ROOT/ref, where only the dependencies apt pulled for it are installed; after
# the purge both must hold the same files. The .debs apt fetches stay in ROOT/archives for
# the next run. Needs root (debootstrap, chroot, mount); downloads from the Debian mirror this
# machine's apt already uses (about 60 MB for the tree, then what the package pulls, once).
set -eu
export LC_ALL=C

root=${1:?usage: install-test.sh ROOT DEB_DIR}
debs=${2:?usage: install-test.sh ROOT DEB_DIR}
suite=bookworm
stamp=.replmon-deb-root-complete

fail() {
  echo "deb-test: $*" >&2
  exit 1
}

[ "$(id -u)" = 0 ] || fail "debootstrap and chroot need root"
command -v debootstrap >/dev/null || fail "debootstrap is missing (tests/ensure-packages.sh deb)"
deb=$(find "$debs" -maxdepth 1 -name 'replmon_*.deb' | head -1)
[ -n "$deb" ] || fail "no replmon_*.deb in $debs (make deb)"
deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")

mkdir -p "$root"
root=$(cd "$root" && pwd)
base=$root/$suite
run=$root/run
ref=$root/ref
start=$(date +%s)

# Unmounts whatever is mounted at or below $1, deepest first: `make clean` is rm -rf build,
# which must never walk into a mounted /proc.
unmount_below() {
  awk -v top="$1" '$2 == top || index($2, top "/") == 1 { print $2 }' /proc/mounts |
    sort -r | while read -r m; do umount "$m" || umount -l "$m"; done
}
trap 'for t in "$base.partial" "$run" "$ref"; do unmount_below "$t"; done' EXIT
trap 'exit 130' INT TERM HUP

# One run at a time: the tree, the copies and the archives are shared.
exec 9>"$root/lock"
flock 9

# Runs a command in tree $1 as the package tools expect it (no questions asked).
in_tree() {
  tree=$1
  shift
  chroot "$tree" env DEBIAN_FRONTEND=noninteractive "$@"
}

# Runs apt-get in tree $1 with the rest of the arguments; its output goes to ROOT/$2.log.
# (Dpkg::Use-Pty=0: the tree has no /dev/pts.)
apt_in() {
  tree=$1 log=$root/$2.log
  shift 2
  in_tree "$tree" apt-get -y -q -o Dpkg::Use-Pty=0 --no-install-recommends "$@" >"$log" 2>&1 || {
    tail -20 "$log" >&2
    fail "apt-get $* in $tree failed; log $log"
  }
}

build_base() {
  partial=$base.partial
  unmount_below "$partial"
  rm -rf "$partial" "$base"
  # The mirror of the host's own release in its apt sources, as apt itself reads them (the
  # $(...) are apt's fields, not the shell's), as tests/compat/build-root.sh does.
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  # shellcheck disable=SC2016
  mirror=$(apt-get indextargets --format '$(TARGET_OF) $(RELEASE) $(REPO_URI)' |
    awk -v want="$codename" '$1 == "deb" && $2 == want { print $3; exit }')
  [ -n "$mirror" ] || fail "no 'deb ... $codename' entry in the apt sources (apt-get update?)"
  echo "deb-test: debootstrap $suite from $mirror into $partial"
  debootstrap --variant=minbase "$suite" "$partial" "$mirror" >"$root/debootstrap.log" 2>&1 || {
    tail -20 "$root/debootstrap.log" >&2
    fail "debootstrap failed; log $root/debootstrap.log"
  }
  # No service may start inside the tree.
  printf '#!/bin/sh\nexit 101\n' >"$partial/usr/sbin/policy-rc.d"
  chmod 0755 "$partial/usr/sbin/policy-rc.d"
  mount -t proc proc "$partial/proc"
  apt_in "$partial" base-systemd install systemd
  in_tree "$partial" apt-get clean
  unmount_below "$partial"
  echo "Debian $(cat "$partial/etc/debian_version") with $(in_tree "$partial" systemctl --version |
    head -1)" >"$partial/$stamp"
  mv "$partial" "$base"
}
if [ ! -e "$base/$stamp" ]; then
  build_base
  echo "deb-test: $base ready in $(($(date +%s) - start)) s: $(cat "$base/$stamp")"
fi

# A fresh copy of the tree at $1, sharing the fetched .debs, with /proc for the package
# scripts.
fresh_copy() {
  unmount_below "$1"
  rm -rf "$1"
  cp -a "$base" "$1"
  mkdir -p "$root/archives/partial"
  mount --bind "$root/archives" "$1/var/cache/apt/archives"
  mount -t proc proc "$1/proc"
}

# Every path of tree $1 but those of the kernel, of runtime state (/run, /tmp: a tmpfs on a
# booted system), and of the package managers' own records, caches and logs.
tree_files() {
  (cd "$1" && find . -xdev \( -path ./proc -o -path ./run -o -path ./tmp \
    -o -path ./var/cache/apt -o -path ./var/lib/apt -o -path ./var/lib/dpkg \
    -o -path ./var/cache/debconf -o -path ./var/cache/ldconfig -o -path ./var/log \
    -o -path ./etc/ld.so.cache \) -prune -o -print) | sort
}

installed_packages() {
  in_tree "$1" dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' |
    awk '$1 == "ii" { print $2 }' | sort
}

fresh_copy "$run"
cp "$deb" "$run/tmp/"
installed_packages "$run" >"$root/packages.before"
cp "$run/etc/passwd" "$root/passwd.before"
cp "$run/etc/group" "$root/group.before"

echo "deb-test: apt-get install ./$(basename "$deb") in $(cat "$run/$stamp")"
apt_in "$run" install install "./tmp/$(basename "$deb")"
installed_packages "$run" | comm -13 "$root/packages.before" - >"$root/pulled.txt"
echo "deb-test: it installed $(tr '\n' ' ' <"$root/pulled.txt")"

# The dependencies dh_shlibdeps found are installed now, and were not before.
depends=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/^ *//; s/[ (].*//')
for pkg in $depends; do
  installed_packages "$run" | grep -qx "$pkg" || fail "dependency $pkg is not installed"
done
grep -qx libmariadb3 "$root/pulled.txt" || fail "apt did not pull libmariadb3 (was it there?)"

version=$(dpkg-deb -f "$deb" Version)
for prog in replmon replmon-check; do
  out=$(in_tree "$run" "$prog" --version) || fail "$prog --version failed: $out"
  case "$out" in
  "$prog, version $version "*) echo "deb-test: $out" ;;
  *) fail "$prog --version says '$out', the package is $version" ;;
  esac
done

# The example configuration is the conffile and passes its own check, with the empty
# root-only password file postinst made for it.
in_tree "$run" dpkg-query -W -f='${Conffiles}\n' replmon | grep -q '^ /etc/replmon/replmon.yml ' ||
  fail "/etc/replmon/replmon.yml is not a conffile"
mode=$(stat -c '%a %U %s' "$run/etc/replmon/monitor.pass") || fail "no /etc/replmon/monitor.pass"
[ "$mode" = "600 root 0" ] || fail "/etc/replmon/monitor.pass: mode, owner, size are $mode"
out=$(in_tree "$run" replmon --config.file=/etc/replmon/replmon.yml --config.check 2>&1) ||
  fail "replmon --config.check: $out"
# One line and no warning (such as one about a password file others can read).
case "$out" in
"/etc/replmon/replmon.yml: configuration is valid ("*")") echo "deb-test: $out" ;;
*) fail "replmon --config.check said: $out" ;;
esac

for page in man8/replmon.8.gz man1/replmon-check.1.gz; do
  [ -s "$run/usr/share/man/$page" ] || fail "no /usr/share/man/$page"
done

# systemd's own reading of the installed unit, inside the tree (where its binaries exist).
out=$(in_tree "$run" systemd-analyze verify --man=no /lib/systemd/system/replmon.service 2>&1) ||
  fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify said: $out"
echo "deb-test: systemd-analyze verify replmon.service: no complaint"
# Installed, not enabled: the example configuration names hosts that are not the admin's.
state=$(in_tree "$run" systemctl is-enabled replmon.service 2>&1 || true)
[ "$state" = disabled ] || fail "replmon.service is '$state' after installation, not disabled"
echo "deb-test: replmon.service is $state"

apt_in "$run" purge purge replmon
if in_tree "$run" dpkg-query -W replmon >/dev/null 2>&1; then
  fail "dpkg still knows replmon after the purge: $(in_tree "$run" dpkg -l replmon | tail -1)"
fi

# The same tree with only the dependencies apt pulled for the package, which stay after
# apt-get purge (packages other than apt's own leave files behind at installation too:
# alternatives, rc.d links).
fresh_copy "$ref"
# shellcheck disable=SC2046 # package names, one per line
apt_in "$ref" ref install $(grep -vx replmon "$root/pulled.txt")
tree_files "$ref" >"$root/expected.txt"
tree_files "$run" >"$root/after.txt"
if ! cmp -s "$root/expected.txt" "$root/after.txt"; then
  diff "$root/expected.txt" "$root/after.txt" | grep '^[<>]' |
    sed 's/^>/  left behind:/; s/^</  missing:/' >&2
  fail "the purge did not leave the tree as the dependencies alone make it"
fi
[ ! -e "$run/etc/replmon" ] || fail "/etc/replmon is still there after the purge"
# replmon runs as systemd's DynamicUser: the package makes no account, so none stays.
cmp -s "$root/passwd.before" "$run/etc/passwd" || fail "/etc/passwd changed"
cmp -s "$root/group.before" "$run/etc/group" || fail "/etc/group changed"
echo "deb-test: apt-get purge replmon left nothing behind"

for t in "$run" "$ref"; do
  unmount_below "$t"
  rm -rf "$t"
done
echo "deb-test: passed in $(($(date +%s) - start)) s"
