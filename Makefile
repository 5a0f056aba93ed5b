# replmon: `make` builds build/replmon; `make check` runs every test; `make demo` runs it.
# See README.md.

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
CC ?= cc
PKGS := libmariadb libmicrohttpd libcurl yaml-0.1 zlib jansson gnutls libcrypt libstrophe
# Readiness notification (sd_notify) when libsystemd's headers are there; replmon runs without.
HAVE_LIBSYSTEMD := $(shell pkg-config --exists libsystemd 2>/dev/null && echo 1)
PKGS += $(if $(HAVE_LIBSYSTEMD),libsystemd)
REVISION := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS))
CMOCKA_CFLAGS = $(shell pkg-config --cflags cmocka)
CMOCKA_LIBS = $(shell pkg-config --libs cmocka)

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
CFLAGS ?= -O2 -g
ifeq ($(SANITIZE),1)
CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARNINGS) $(CPPFLAGS) $(CFLAGS) -Ichecker -Iexporter -I$(BUILD)/gen \
	$(PKG_CFLAGS) -MMD -MP
LIBS = $(PKG_LIBS) -lpthread -lm

CHECKER_SRC := $(wildcard checker/*.c)
# The two programs' main functions sit above both folders: only they see checker/ and exporter/.
MAIN_SRC := exporter/main.c exporter/check_main.c
EXPORTER_SRC := $(filter-out $(MAIN_SRC),$(wildcard exporter/*.c))
UNIT_SRC := $(wildcard tests/unit/test_*.c)

CHECKER_OBJ := $(CHECKER_SRC:%.c=$(BUILD)/obj/%.o)
EXPORTER_OBJ := $(EXPORTER_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all check deps lint unit integration compat dashboards dashboards-test demo asan valgrind fuzz bench \
	bench-quick soak install clean format deb deb-test
PROGRAMS := $(BUILD)/replmon $(BUILD)/replmon-check
all: $(PROGRAMS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# Rewritten only when the revision changes, so that a commit rebuilds just what shows it.
$(BUILD)/gen/revision.h: FORCE
	@mkdir -p $(dir $@)
	@echo '#define REPLMON_REVISION "$(REVISION)"' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
$(BUILD)/obj/exporter/main.o $(BUILD)/obj/exporter/flags.o: $(BUILD)/gen/revision.h
# Likewise the optional features found at build time, so that installing one rebuilds its user.
$(BUILD)/gen/build_features.h: FORCE
	@mkdir -p $(dir $@)
	@echo '$(if $(HAVE_LIBSYSTEMD),#define HAVE_LIBSYSTEMD 1,/* built without libsystemd */)' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
$(BUILD)/obj/exporter/notify.o: $(BUILD)/gen/build_features.h
FORCE:

$(BUILD)/replmon: $(BUILD)/obj/exporter/main.o $(EXPORTER_OBJ) $(CHECKER_OBJ)
	$(CC) $(LDFLAGS) $^ $(LIBS) -o $@

# The one-shot check shares the probes, pollers, snapshot and health code with the daemon.
$(BUILD)/replmon-check: $(BUILD)/obj/exporter/check_main.o $(EXPORTER_OBJ) $(CHECKER_OBJ)
	$(CC) $(LDFLAGS) $^ $(LIBS) -o $@
$(BUILD)/obj/exporter/check_main.o: $(BUILD)/gen/revision.h

$(BUILD)/tests/%: tests/unit/%.c $(EXPORTER_OBJ) $(CHECKER_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) $^ $(LIBS) $(CMOCKA_LIBS) -o $@

# Packages first (pkg-config needs them), then a fresh make that sees their flags.
check: deps
	$(MAKE) --no-print-directory all lint unit dashboards-test integration

deps:
	@tests/ensure-packages.sh build test

unit: $(UNIT_BIN)
	@failed=0; for t in $(UNIT_BIN); do \
	  echo "== $$t"; (cd tests/unit && ../../$$t) || failed=1; \
	done; \
	for g in tests/unit/golden/*.prom; do \
	  echo "== promtool check metrics $$g"; \
	  out=$$(promtool check metrics < $$g 2>&1); \
	  if [ $$? -ne 0 ] || [ -n "$$out" ]; then echo "$$out"; failed=1; fi; \
	done; \
	exit $$failed

# Dashboards, rules and Alertmanager configuration: linter, promtool, amtool, and a
# throwaway Prometheus and Alertmanager on 127.0.0.1 (a few seconds, no database).
# The shipped Grafana dashboards and Prometheus rules, written from the monitoring mixin
# (dashboards/mixin/): edit the mixin, then run this and commit both.
dashboards:
	jsonnet -S -m dashboards dashboards/mixin/build.jsonnet
	jsonnet -m dashboards dashboards/mixin/build-dashboards.jsonnet

# Their tests, among them that the committed files are what the mixin writes.
dashboards-test:
	python3 tests/dashboards/test_dashboards.py

# Every suite runs even when one fails; the target fails if any did.
INTEGRATION_SUITES := test_mariadb test_replication test_lag test_mariadb_tls test_xmpp \
	test_operator test_status_page test_security test_alerting test_deployment test_scaleout \
	test_faults test_xmpp_login test_consistency test_ejabberd_cluster test_xmpp_cluster \
	test_delay_grants test_unreachable test_binlog_horizon test_errant_gtid test_semisync \
	test_s2s_ping test_federation test_xmpp_tls test_haproxy test_dns_timeout \
	test_xmpp_reply_from
integration: $(BUILD)/replmon
	@failed=0; for t in $(INTEGRATION_SUITES); do \
	  echo "== tests/integration/$$t.py"; \
	  REPLMON=$(BUILD)/replmon REPLMON_CHECK=$(BUILD)/replmon-check \
	    python3 tests/integration/$$t.py || failed=1; \
	done; exit $$failed

# The suites that start a MariaDB pair, again against MariaDB 11.8: a Debian trixie tree
# built once with debootstrap (tests/compat/build-root.sh; kept in build/compat/trixie until
# make clean), from which mariadb_pair.py starts the pair (REPLMON_MARIADB_ROOT). Root only
# (debootstrap, chroot).
COMPAT_ROOT := build/compat/trixie
# The suites whose subject is the MariaDB server itself: replication, faults, lag, TLS and
# the replication truths of #15. (The XMPP, operator and dashboard suites also pass on 11.8
# but test nothing version-specific; left out to keep .ci/run under its budget.)
COMPAT_SUITES := test_mariadb test_replication test_lag test_faults test_mariadb_tls \
	test_consistency test_delay_grants test_unreachable test_binlog_horizon test_errant_gtid \
	test_semisync
compat:
	@tests/ensure-packages.sh build test compat
	@$(MAKE) --no-print-directory all
	tests/compat/build-root.sh $(COMPAT_ROOT)
	@failed=0; for t in $(COMPAT_SUITES); do \
	  echo "== tests/integration/$$t.py on $$(cat $(COMPAT_ROOT)/.replmon-compat-complete)"; \
	  REPLMON_MARIADB_ROOT=$(abspath $(COMPAT_ROOT)) REPLMON=$(BUILD)/replmon \
	    REPLMON_CHECK=$(BUILD)/replmon-check python3 tests/integration/$$t.py || failed=1; \
	done; exit $$failed

demo:
	@tests/ensure-packages.sh build demo
	@$(MAKE) --no-print-directory all
	python3 tests/integration/demo.py

# The same tests under AddressSanitizer and UndefinedBehaviorSanitizer.
asan: deps
	$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=1 all unit integration

valgrind: deps
	$(MAKE) --no-print-directory BUILD=build/valgrind $(UNIT_SRC:tests/unit/%.c=build/valgrind/tests/%)
	@failed=0; for t in $(UNIT_SRC:tests/unit/%.c=build/valgrind/tests/%); do \
	  (cd tests/unit && valgrind -q --error-exitcode=1 --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect ../../$$t) || failed=1; \
	done; exit $$failed

install: $(PROGRAMS)
	for p in $(PROGRAMS); do install -D -m 0755 $$p $(DESTDIR)$(PREFIX)/bin/$$(basename $$p); done
	install -D -m 0644 exporter/replmon.service $(DESTDIR)$(PREFIX)/lib/systemd/system/replmon.service
	install -D -m 0644 exporter/replmon.socket $(DESTDIR)$(PREFIX)/lib/systemd/system/replmon.socket
	install -D -m 0644 exporter/replmon.example.yml $(DESTDIR)$(PREFIX)/share/doc/replmon/replmon.example.yml
	install -D -m 0644 docs/runbook.md $(DESTDIR)$(PREFIX)/share/doc/replmon/runbook.md
	install -D -m 0644 exporter/replmon.8 $(DESTDIR)$(PREFIX)/share/man/man8/replmon.8
	install -D -m 0644 exporter/replmon-check.1 $(DESTDIR)$(PREFIX)/share/man/man1/replmon-check.1
	sed -i 's|/usr/local/|$(PREFIX)/|g' $(DESTDIR)$(PREFIX)/lib/systemd/system/replmon.service \
	  $(DESTDIR)$(PREFIX)/lib/systemd/system/replmon.socket \
	  $(DESTDIR)$(PREFIX)/share/man/man8/replmon.8 \
	  $(DESTDIR)$(PREFIX)/share/man/man1/replmon-check.1
	$(if $(HAVE_LIBSYSTEMD),,sed -i 's|^Type=notify$$|Type=simple|' \
	  $(DESTDIR)$(PREFIX)/lib/systemd/system/replmon.service)

# The Debian package (debian/): dpkg-buildpackage on a copy of the tree in build/deb/src, so
# that the source package, the .debs and the .changes land in build/deb rather than beside
# the tree, then lintian on both, which must find no error or warning (overrides:
# debian/replmon.lintian-overrides). debian/changelog's version must be the one in
# exporter/version.h: a release changes both.
DEB_DIR := build/deb
deb:
	@tests/ensure-packages.sh build deb
	@v=$$(sed -n 's/^#define REPLMON_VERSION "\(.*\)"$$/\1/p' exporter/version.h); \
	d=$$(dpkg-parsechangelog -SVersion); [ "$$v" = "$$d" ] || { \
	  echo "deb: debian/changelog is at $$d, exporter/version.h at $$v: add a changelog entry" >&2; \
	  exit 1; }
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/src
	tar --exclude=./build --exclude=./.git --exclude=__pycache__ -cf - . | \
	  tar -C $(DEB_DIR)/src -xf -
	cd $(DEB_DIR)/src && dpkg-buildpackage -us -uc >../build.log 2>&1 || { \
	  tail -30 ../build.log; echo "deb: dpkg-buildpackage failed; log $(DEB_DIR)/build.log" >&2; \
	  exit 1; }
	lintian -i --fail-on error,warning $(DEB_DIR)/replmon_*.changes
	@ls $(DEB_DIR)/*.deb

# The package installed in a Debian bookworm tree (debootstrap, kept in build/deb-root until
# make clean): dependencies, --version, --config.check, systemd-analyze verify, and a purge
# that leaves nothing behind. Root only (debootstrap, chroot).
deb-test: deb
	tests/deb/install-test.sh build/deb-root $(DEB_DIR)

# libFuzzer targets (clang): each runs FUZZ_SECONDS on its seed corpus in tests/fuzz/corpus/,
# with new inputs kept in build/fuzz/corpus/ so that the seeds stay as committed.
FUZZ_TARGETS := config web_config prosody json stream labels gtid http
FUZZ_SECONDS ?= 30
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-Ichecker -Iexporter -Ibuild/fuzz/gen $(PKG_CFLAGS)
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(CHECKER_SRC) $(EXPORTER_SRC) build/fuzz/gen/revision.h \
	build/fuzz/gen/build_features.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(filter %.c,$^) $(LIBS) -o $@
# A static pattern rule: its targets are explicit, so make keeps them (not intermediate).
FUZZ_GEN := build/fuzz/gen/revision.h build/fuzz/gen/build_features.h
$(FUZZ_GEN): build/fuzz/gen/%.h: $(BUILD)/gen/%.h
	@mkdir -p $(dir $@)
	cp $< $@

fuzz: deps
	$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p build/fuzz/corpus/$$t; \
	  echo "== fuzz $$t for $(FUZZ_SECONDS)s"; \
	  build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=1024 \
	    -print_final_stats=0 build/fuzz/corpus/$$t tests/fuzz/corpus/$$t 2>build/fuzz/$$t.log \
	    || { tail -40 build/fuzz/$$t.log; exit 1; }; \
	  grep -E "^(Done|#[0-9]+ *DONE)" build/fuzz/$$t.log | tail -1; \
	done

# Benchmark against prometheus-mysqld-exporter (about 5 min; bench-quick about 2 min).
bench: $(BUILD)/replmon
	@tests/ensure-packages.sh build bench
	REPLMON=$(BUILD)/replmon python3 tests/bench/run --out tests/bench/results-latest.txt
bench-quick: $(BUILD)/replmon
	@tests/ensure-packages.sh build bench
	REPLMON=$(BUILD)/replmon python3 tests/bench/run --quick

# Ten minutes of cycling faults on real servers with a scraper at 20 req/s (on demand, not in
# check): RSS and fds every 30 s, PASS when no scrape failed and both end flat.
SOAK_ARGS ?=
soak: $(BUILD)/replmon
	@tests/ensure-packages.sh build test
	REPLMON=$(BUILD)/replmon python3 tests/soak/run $(SOAK_ARGS)

clean:
	rm -rf build

FORMAT_FILES = $(wildcard checker/*.[ch] exporter/*.[ch] tests/unit/*.[ch] tests/fuzz/*.c)
JSONNET_FILES = $(sort $(shell find dashboards/mixin -name '*.jsonnet' -o -name '*.libsonnet'))

format:
	clang-format -i $(FORMAT_FILES)
	jsonnetfmt -i $(JSONNET_FILES)

# Every Python file under tests/ and dashboards/: *.py and the scripts without a suffix
# (tests/bench/run, ...) found by their python3 shebang.
PYTHON_FILES = $(sort $(shell find tests dashboards -type f \( -name '*.py' -o -exec sh -c \
	'head -n1 "$$1" | grep -q "^\#!.*python3"' sh {} \; \) -print))
# Debian's python3-flake8 is installed for /usr/bin/python3; another python3 first in PATH
# (pyenv, a virtualenv) would not see it.
FLAKE8 ?= /usr/bin/python3 -m flake8

# Style and static analysis; all must print nothing.
lint:
	clang-format --dry-run -Werror $(FORMAT_FILES)
	cppcheck --quiet --error-exitcode=1 --inline-suppr --enable=warning,performance,portability \
	  --std=c11 -Ichecker -Iexporter checker exporter tests/unit tests/fuzz
	$(FLAKE8) $(PYTHON_FILES)
	jsonnetfmt --test $(JSONNET_FILES)
	tests/lint-includes.sh

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
