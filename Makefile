# Ovidio - WhatsApp sales assistant.
#
#   make run        install missing Debian packages (as root), build, and
#                   start Ovidio on 127.0.0.1 with stand-ins for WhatsApp and
#                   Cianbox; chat with it from this terminal (Ctrl-D stops)
#   make            build every program (cgi-bin/*, jobs/*)
#   make check      install missing Debian packages (as root), build, and run
#                   all tests: unit, unit under ASan/UBSan, store contract on
#                   SQLite and MongoDB, integration under Apache, the
#                   bundle on a Debian 11 root (debootstrap), short fuzz
#   make deps       install the Debian packages the build and tests need
#   make fuzz       run the libFuzzer harnesses (FUZZ_SECONDS each)
#   make bench      run the benchmarks in bench/
#   make install DESTDIR=... PREFIX=...
#   make bundle     ovidio-VERSION-linux-x86_64.tar.gz for shared hosts: runs
#                   on any x86-64 Linux with Apache CGI, whatever its glibc

# Objects, test programs and fuzzers go under $(B); a separate B (e.g.
# B=/tmp/ovidio-build) lets several builds share one work tree.
B ?= build
PREFIX ?= /opt/ovidio
DESTDIR ?=
PKG_CONFIG ?= pkg-config
FUZZ_SECONDS ?= 20
FUZZ_CC ?= clang

DEB_PACKAGES := build-essential pkg-config libcurl4-openssl-dev libcjson-dev \
	libmongoc-dev libbson-dev libxml2-dev libhpdf-dev libpng-dev libsqlite3-dev \
	apache2 python3 python3-mockupdb python3-mongomock python3-jsonschema \
	python3-yaml poppler-utils \
	wrk clang curl ca-certificates procps chromium \
	debootstrap openssl

# libpng: quote logos are decoded with it before libharu sees them.
PKGS := libcurl libcjson libmongoc-1.0 libxml-2.0 sqlite3 libpng

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla \
	-Wmissing-prototypes -Wstrict-prototypes
CFLAGS ?= -O2 -g
OV_CFLAGS := -std=c11 -D_GNU_SOURCE -D_FORTIFY_SOURCE=2 -fstack-protector-strong \
	$(WARN) $(CFLAGS) -Ilib
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
ALL_LIBS = -Wl,--as-needed $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lhpdf -lm
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# The webhook links libc only, statically (DESIGN.md section 2): process
# start is the whole cost of a CGI. These are its objects.
WEBHOOK_LIB := err log config sha256 hmac spool cgi fsperm fdio

# The quote CGI reads the store and a file; no libcurl, libxml2 or libharu.
PRESUPUESTO_LIB := err log config clock cgi uuid quote quote_file fsperm fdio isr store \
	store_sqlite store_mongo utf8
PRESUPUESTO_LIBS = -Wl,--as-needed \
	$(shell $(PKG_CONFIG) --libs libcjson sqlite3 libmongoc-1.0 2>/dev/null) -lm

# lib/launch_main.c is the bundle launcher's main (make bundle), not a module.
LIB_SRC := $(filter-out lib/launch_main.c,$(wildcard lib/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
SAN_OBJ := $(LIB_SRC:%.c=$(B)/san/%.o)
PROGRAMS := $(patsubst %.c,%,$(wildcard cgi-bin/*.c jobs/*.c)) libexec/inbox-full
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
SAN_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/san/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/fuzz/%)

.PHONY: all check deps ensure-deps test-build unit integration fuzz bench \
	install clean run bundle bundle-test
.DELETE_ON_ERROR:

all: $(PROGRAMS)

$(B)/lib/%.o: lib/%.c $(wildcard lib/*.h lib/*.def)
	@mkdir -p $(@D)
	$(CC) $(OV_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(B)/san/lib/%.o: lib/%.c $(wildcard lib/*.h lib/*.def)
	@mkdir -p $(@D)
	$(CC) $(OV_CFLAGS) $(SAN_FLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(B)/libovidio.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(B)/san/libovidio.a: $(SAN_OBJ)
	rm -f $@
	ar rcs $@ $^

cgi-bin/webhook: cgi-bin/webhook.c $(WEBHOOK_LIB:%=$(B)/lib/%.o)
	$(CC) $(OV_CFLAGS) -static -o $@ $^

cgi-bin/presupuesto: cgi-bin/presupuesto.c $(PRESUPUESTO_LIB:%=$(B)/lib/%.o)
	$(CC) $(OV_CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(PRESUPUESTO_LIBS)

# The inbox: cgi-bin/inbox is built without libcurl, libharu and libmongoc
# (cgi-bin/inbox.c, INBOX_LEAN): loading them and what they pull in was
# most of a page's time. It hands what needs them (MongoDB, sending through
# WhatsApp, a quote's PDF, asking Cianbox) to libexec/inbox-full, the same
# program with every library, outside the web's reach.
INBOX_LIB := err log config clock cgi html inbox invoices customer conv \
	store store_sqlite quote quote_file isr uuid utf8 sha256 hmac \
	status_file identity phone catalog catalog_text fsperm fdio media_keep
INBOX_LIBS = -Wl,-O1,--as-needed,--hash-style=gnu \
	$(shell $(PKG_CONFIG) --libs libcjson sqlite3 2>/dev/null) -lm

cgi-bin/inbox: cgi-bin/inbox.c $(INBOX_LIB:%=$(B)/lib/%.o)
	$(CC) $(OV_CFLAGS) $(PKG_CFLAGS) -DINBOX_LEAN -o $@ $^ $(INBOX_LIBS)

libexec/inbox-full: cgi-bin/inbox.c $(B)/libovidio.a
	@mkdir -p $(@D)
	$(CC) $(OV_CFLAGS) $(PKG_CFLAGS) -o $@ $< $(B)/libovidio.a $(ALL_LIBS)

# The health check reads files only: no store, no network library, so an
# uptime monitor's request costs a process start and little more.
HEALTH_LIB := err log config clock cgi status_file

cgi-bin/health: cgi-bin/health.c $(HEALTH_LIB:%=$(B)/lib/%.o)
	$(CC) $(OV_CFLAGS) $(PKG_CFLAGS) -o $@ $^ -Wl,--as-needed \
		$(shell $(PKG_CONFIG) --libs libcjson 2>/dev/null) -lm

cgi-bin/%: cgi-bin/%.c $(B)/libovidio.a
	$(CC) $(OV_CFLAGS) $(PKG_CFLAGS) -o $@ $< $(B)/libovidio.a $(ALL_LIBS)

jobs/%: jobs/%.c $(B)/libovidio.a
	$(CC) $(OV_CFLAGS) $(PKG_CFLAGS) -o $@ $< $(B)/libovidio.a $(ALL_LIBS)

$(B)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(B)/libovidio.a
	@mkdir -p $(@D)
	$(CC) $(OV_CFLAGS) $(PKG_CFLAGS) -Itests/unit -o $@ $< $(B)/libovidio.a $(ALL_LIBS)

$(B)/san/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(B)/san/libovidio.a
	@mkdir -p $(@D)
	$(CC) $(OV_CFLAGS) $(SAN_FLAGS) $(PKG_CFLAGS) -Itests/unit -o $@ $< \
		$(B)/san/libovidio.a $(ALL_LIBS)

# The library is compiled once for all harnesses (instrumented, not
# linked with libFuzzer's main); each harness then only links.
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Ilib
FUZZ_OBJ := $(LIB_SRC:%.c=$(B)/fuzz/%.o)

$(B)/fuzz/lib/%.o: lib/%.c $(wildcard lib/*.h lib/*.def)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(PKG_CFLAGS) \
		-fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

$(B)/fuzz/libovidio.a: $(FUZZ_OBJ)
	rm -f $@
	ar rcs $@ $^

$(B)/fuzz/%: tests/fuzz/%.c $(B)/fuzz/libovidio.a
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(PKG_CFLAGS) \
		-fsanitize=fuzzer,address,undefined -o $@ $< \
		$(B)/fuzz/libovidio.a $(ALL_LIBS)

test-build: all $(UNIT_BIN) $(SAN_BIN)

# On a fresh machine `make check` is all the set-up: as root it installs
# what is missing; otherwise it says the one command to run.
ensure-deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then $(MAKE) deps; \
		else echo "missing Debian packages:$$missing"; echo "run: sudo make deps"; exit 1; fi; \
	fi

deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_PACKAGES)

check: ensure-deps
	$(MAKE) test-build
	$(MAKE) bundle
	@if command -v $(FUZZ_CC) >/dev/null 2>&1; then $(MAKE) $(FUZZ_BIN); fi
	tests/run all

# The chat reads this terminal (tests/run-local); RUN_ARGS="--as 1" picks
# the customer, RUN_ARGS="--script FILE" sends a file's lines.
run: ensure-deps
	$(MAKE) all
	tests/run-local $(RUN_ARGS)

unit: test-build
	tests/run unit

integration: all
	tests/run integration

bundle-test: bundle
	tests/run bundle

fuzz: $(FUZZ_BIN)
	tests/run fuzz $(FUZZ_SECONDS)

# Each script prints its figures; none of them is a test.
bench: all
	bench/webhook
	bench/worker
	bench/sync
	bench/search
	bench/pdf
	bench/dialogues
	bench/notify
	bench/inbox

install: all
	install -d $(DESTDIR)$(PREFIX)/cgi-bin $(DESTDIR)$(PREFIX)/jobs \
		$(DESTDIR)$(PREFIX)/libexec $(DESTDIR)$(PREFIX)/apache
	for p in $(filter cgi-bin/%,$(PROGRAMS)); do install -m 0755 $$p $(DESTDIR)$(PREFIX)/cgi-bin/; done
	for p in $(filter jobs/%,$(PROGRAMS)); do install -m 0755 $$p $(DESTDIR)$(PREFIX)/jobs/; done
	for p in $(filter libexec/%,$(PROGRAMS)); do install -m 0755 $$p $(DESTDIR)$(PREFIX)/libexec/; done
	install -m 0644 apache/ovidio.conf apache/htaccess.example apache/crontab \
		apache/business_info.example $(DESTDIR)$(PREFIX)/apache/

# ---- make bundle -------------------------------------------------------
# ovidio-VERSION-linux-x86_64.tar.gz for hosts that offer Apache CGI and
# cron only (README "On shared hosting"), whatever their glibc:
#   cgi-bin/webhook          static already (libc only): as built
#   cgi-bin/NAME, jobs/NAME  the static launcher (lib/launch.h), one file
#                            under every name (hard links)
#   libexec/NAME             the programs themselves (and inbox-full, which
#                            the inbox runs through the shipped loader)
#   lib/                     every library they load, found with ldd, glibc
#                            and its loader included; openssl.cnf
#   .htaccess, cgi-bin/.htaccess, crontab, INSTALL, VERSION
# from apache/bundle/ (the crontab's lines from apache/crontab).
VERSION := $(shell cat VERSION 2>/dev/null || \
	git describe --tags --always --dirty 2>/dev/null || echo dev)
BUNDLE := ovidio-$(VERSION)-linux-x86_64
BUNDLE_DIR := $(B)/bundle/$(BUNDLE)
BUNDLE_DYN := $(filter-out cgi-bin/webhook,$(PROGRAMS))
BUNDLE_HOME := /home/USER/public_html/ovidio

$(B)/launch: lib/launch_main.c $(B)/lib/launch.o
	$(CC) $(OV_CFLAGS) -static -o $@ $^

bundle: all $(B)/launch
	rm -rf $(B)/bundle
	mkdir -p $(BUNDLE_DIR)/cgi-bin $(BUNDLE_DIR)/jobs $(BUNDLE_DIR)/libexec \
		$(BUNDLE_DIR)/lib
	@if readelf -l cgi-bin/webhook | grep -q INTERP; then \
		echo "cgi-bin/webhook is not static"; exit 1; fi
	install -m 0755 -s cgi-bin/webhook $(BUNDLE_DIR)/cgi-bin/
	install -m 0755 -s $(B)/launch $(B)/bundle/launch
	@# libexec/inbox-full has no launcher: cgi-bin/inbox runs it through
	@# the bundle's loader (cgi-bin/inbox.c, hand_over).
	for p in $(BUNDLE_DYN); do \
		install -m 0755 -s $$p $(BUNDLE_DIR)/libexec/ || exit 1; \
		case $$p in libexec/*) continue;; esac; \
		ln $(B)/bundle/launch $(BUNDLE_DIR)/$$p || exit 1; \
	done
	@# Every library ldd names, by the name the programs ask for; the loader
	@# as ld-linux-x86-64.so.2. libgcc_s: glibc loads it late (thread exit).
	ldd $(BUNDLE_DYN) | awk '$$2 == "=>" && $$3 == "not" { print "missing: " $$1; bad = 1 } \
		$$2 == "=>" && $$3 ~ /^\// { print $$1, $$3 } \
		$$1 ~ /^\/.*\/ld-linux-x86-64\.so\.2$$/ { print "ld-linux-x86-64.so.2", $$1 } \
		END { exit bad }' | sort -u > $(B)/bundle/libs
	echo "libgcc_s.so.1 $$($(CC) -print-file-name=libgcc_s.so.1)" >> $(B)/bundle/libs
	while read name path; do \
		install -m 0644 "$$path" $(BUNDLE_DIR)/lib/$$name || exit 1; \
	done < $(B)/bundle/libs
	chmod 0755 $(BUNDLE_DIR)/lib/ld-linux-x86-64.so.2
	@# Each program must load from lib/ alone, never from this machine.
	@lib=$(abspath $(BUNDLE_DIR))/lib; for p in $(BUNDLE_DYN); do \
		$$lib/ld-linux-x86-64.so.2 --inhibit-cache --library-path $$lib \
			--list $(BUNDLE_DIR)/libexec/$${p#*/} | awk -v lib=$$lib/ \
			'$$2 == "=>" && index($$3, lib) != 1 { print; bad = 1 } END { exit bad }' || \
			{ echo "$$p loads a library from outside the bundle"; exit 1; }; \
	done
	install -m 0644 apache/bundle/openssl.cnf $(BUNDLE_DIR)/lib/
	install -m 0644 apache/bundle/htaccess-root $(BUNDLE_DIR)/.htaccess
	install -m 0644 apache/bundle/htaccess $(BUNDLE_DIR)/cgi-bin/.htaccess
	{ cat apache/bundle/crontab-head; sed -n '/^CRON_TZ=/,$$p' apache/crontab | \
		tail -n +2 | sed 's|/opt/ovidio/|$(BUNDLE_HOME)/|g'; } > $(BUNDLE_DIR)/crontab
	@if grep -q /opt/ovidio $(BUNDLE_DIR)/crontab || \
	    ! grep -q '^\* \* \* \* \* *$(BUNDLE_HOME)/jobs/worker$$' $(BUNDLE_DIR)/crontab; then \
		echo "apache/crontab changed shape: fix the bundle's crontab"; exit 1; fi
	sed 's/@VERSION@/$(VERSION)/g' apache/bundle/INSTALL > $(BUNDLE_DIR)/INSTALL
	install -m 0644 apache/business_info.example $(BUNDLE_DIR)/
	echo $(VERSION) > $(BUNDLE_DIR)/VERSION
	chmod 0644 $(BUNDLE_DIR)/crontab $(BUNDLE_DIR)/INSTALL $(BUNDLE_DIR)/VERSION
	tar -C $(B)/bundle --sort=name --owner=0 --group=0 --numeric-owner \
		--mtime=@$$(git log -1 --format=%ct 2>/dev/null || date +%s) \
		-cf - $(BUNDLE) | gzip -n > $(BUNDLE).tar.gz.tmp
	mv $(BUNDLE).tar.gz.tmp $(BUNDLE).tar.gz
	@echo "$(CURDIR)/$(BUNDLE).tar.gz" > $(B)/bundle/tarball
	@ls -l $(BUNDLE).tar.gz

# make test-NAME / san-test-NAME: build and run tests/unit/test_NAME.c.
UNIT_NAMES := $(UNIT_SRC:tests/unit/test_%.c=%)
$(UNIT_NAMES:%=test-%): test-%: $(B)/tests/test_%
	$<

$(UNIT_NAMES:%=san-test-%): san-test-%: $(B)/san/tests/test_%
	$<

clean:
	rm -rf $(B) $(PROGRAMS) ovidio-*-linux-x86_64.tar.gz
