#!/bin/sh
# Builds the Debian trixie tree that `make compat` runs MariaDB 11.8 from, once:
#   tests/compat/build-root.sh DIR        (DIR: build/compat/trixie)
# Nothing happens when DIR is complete. The tree is built in DIR.partial and renamed to DIR
# only once MariaDB is installed in it, so an interrupted build is simply redone.
# Needs root and debootstrap (tests/ensure-packages.sh compat). Downloads from the Debian
# mirror this machine's apt already uses, about 214 MB.
set -eu

dir=${1:?usage: build-root.sh DIR}
suite=trixie
stamp=.replmon-compat-complete
[ -e "$dir/$stamp" ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "build-root: $dir: debootstrap and chroot need root" >&2
  exit 1
fi
command -v debootstrap >/dev/null || {
  echo "build-root: debootstrap is missing (tests/ensure-packages.sh compat)" >&2
  exit 1
}

mkdir -p "$(dirname "$dir")"
dir=$(cd "$(dirname "$dir")" && pwd)/$(basename "$dir")
partial=$dir.partial

# Unmounts whatever is mounted at or below $1, deepest first: `make clean` is rm -rf build,
# which must never walk into a mounted /proc.
unmount_below() {
  awk -v top="$1" '$2 == top || index($2, top "/") == 1 { print $2 }' /proc/mounts |
    sort -r | while read -r m; do umount "$m" || umount -l "$m"; done
}

# One build at a time; the loser of the race finds the tree complete afterwards.
exec 9>"$dir.lock"
flock 9
[ -e "$dir/$stamp" ] && exit 0

trap 'unmount_below "$partial"' EXIT
trap 'exit 130' INT TERM HUP
unmount_below "$partial"
rm -rf "$partial" "$dir"

# The mirror of the host's own release in its apt sources, as apt itself reads them (the
# $(...) are apt's fields, not the shell's).
# shellcheck disable=SC2016
codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
mirror=$(apt-get indextargets --format '$(TARGET_OF) $(RELEASE) $(REPO_URI)' |
  awk -v want="$codename" '$1 == "deb" && $2 == want { print $3; exit }')
if [ -z "$mirror" ]; then
  echo "build-root: no 'deb ... $codename' entry in the apt sources (run apt-get update?)" >&2
  exit 1
fi

start=$(date +%s)
echo "build-root: debootstrap $suite from $mirror into $partial"
debootstrap --variant=minbase "$suite" "$partial" "$mirror" >"$dir.debootstrap.log" 2>&1 || {
  tail -20 "$dir.debootstrap.log" >&2
  echo "build-root: debootstrap failed; log $dir.debootstrap.log" >&2
  exit 1
}
# No service may start inside the tree.
printf '#!/bin/sh\nexit 101\n' >"$partial/usr/sbin/policy-rc.d"
chmod 0755 "$partial/usr/sbin/policy-rc.d"
# mariadb-install-db (run by the package, and by the tests) resolves the host's name.
cp /etc/hosts "$partial/etc/hosts"
# The package scripts want /proc; the EXIT trap unmounts it whatever happens.
mount -t proc proc "$partial/proc"
DEBIAN_FRONTEND=noninteractive chroot "$partial" apt-get install -y -q \
  --no-install-recommends mariadb-server mariadb-client >"$dir.apt.log" 2>&1 || {
  tail -20 "$dir.apt.log" >&2
  echo "build-root: apt-get install in $partial failed; log $dir.apt.log" >&2
  exit 1
}
chroot "$partial" apt-get clean
unmount_below "$partial"
# "MariaDB 11.8.x-... (Debian trixie)": what the tests say they ran against.
version=$(chroot "$partial" /usr/sbin/mariadbd --version |
  awk -v s="$suite" '{ print "MariaDB " $3 " (Debian " s ")" }')
echo "$version" >"$partial/$stamp"
mv "$partial" "$dir"
echo "build-root: $dir ready in $(($(date +%s) - start)) s: $version"
