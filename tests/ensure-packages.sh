#!/bin/sh
# Makes sure the Debian packages a task needs are installed: installs them with apt-get when
# run as root, otherwise prints the exact command and fails.
# Usage: tests/ensure-packages.sh GROUP...   (groups: build test demo bench compat deb)
set -eu

build="gcc make pkg-config libmariadb-dev libmicrohttpd-dev libcurl4-gnutls-dev libyaml-dev
zlib1g-dev libjansson-dev libcmocka-dev libgnutls28-dev libcrypt-dev libsystemd-dev libstrophe-dev"
test="mariadb-server mariadb-client prometheus prometheus-alertmanager python3 python3-aiosmtpd
clang-format cppcheck python3-flake8 valgrind groff-base curl haproxy jsonnet
ejabberd erlang-p1-mysql prosody python3-slixmpp openssl clang libclang-rt-14-dev chromium
systemd"
bench="mariadb-server mariadb-client python3 prometheus-mysqld-exporter wrk"
demo="mariadb-server mariadb-client python3 curl ejabberd erlang-p1-mysql python3-slixmpp openssl"
# make compat: a Debian trixie tree (MariaDB 11.8) built with debootstrap; the suites' other
# needs come from the test group.
compat="debootstrap"
# make deb (dpkg-buildpackage, lintian; with the build group for the Build-Depends) and make
# deb-test (a Debian bookworm tree built with debootstrap to install the package in).
deb="debhelper dpkg-dev lintian debootstrap"

wanted=""
for group in "$@"; do
  case "$group" in
  build) wanted="$wanted $build" ;;
  test) wanted="$wanted $test" ;;
  demo) wanted="$wanted $demo" ;;
  bench) wanted="$wanted $bench" ;;
  compat) wanted="$wanted $compat" ;;
  deb) wanted="$wanted $deb" ;;
  *) echo "ensure-packages: unknown group '$group'" >&2; exit 2 ;;
  esac
done

missing=""
for pkg in $wanted; do
  case " $missing " in *" $pkg "*) continue ;; esac
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $pkg"
  fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "Missing Debian packages. Install them with:" >&2
  echo "  sudo apt-get install -y --no-install-recommends$missing" >&2
  exit 1
fi
echo "Installing missing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
# The tests start their own servers on loopback: keep the packages' system services
# (mariadb, ejabberd, prosody, prometheus) from starting at install time.
policy=/usr/sbin/policy-rc.d
added_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  added_policy=1
fi
status=0
apt-get update -q && apt-get install -y -q --no-install-recommends $missing || status=$?
[ -n "$added_policy" ] && rm -f "$policy"
exit $status
