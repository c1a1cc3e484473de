# SPDX-License-Identifier: MIT
# Builds idsrd, idsrctl, idsr-vmm and libidsr-client into build/, and runs the
# tests, the demo and the benchmarks. `make V=1` shows the commands.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
DESTDIR ?=

# A sanitizer build keeps its objects apart (the flags are not tracked per object).
ifeq ($(SANITIZE),1)
BUILD ?= build-sanitize
endif
BUILD ?= build
VERSION := 0.1.0

CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -pthread -MMD -MP
# -Wconversion -Wsign-conversion: a value that does not fit where it goes is
# a bug in a daemon that copies 64-bit register values between wire, database
# and guest; a conversion that is meant says so with a cast.
CFLAGS += -Wall -Wextra -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
          -Wshadow -Wpointer-arith -Wvla -Wundef -Wno-unused-parameter \
          -Wconversion -Wsign-conversion
CFLAGS += -I. -Ilib -Iproto -I$(BUILD)/gen -DIDSR_VERSION='"$(VERSION)"'
WERROR ?= 1
ifeq ($(WERROR),1)
CFLAGS += -Werror
endif
ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
LDFLAGS += -pthread

PKGS := libuv sqlite3 libprotobuf-c libsystemd libelf libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) unicorn cmocka 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS += $(PKG_CFLAGS)
UNICORN_LIBS := $(shell pkg-config --libs unicorn 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

ifeq ($(V),1)
Q :=
else
Q := @
endif

# ---- sources: each directory is one module; new files are picked up ------
GEN_C := $(BUILD)/gen/idsr.pb-c.c
GEN_H := $(BUILD)/gen/idsr.pb-c.h
obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(patsubst %.S,$(BUILD)/obj/%.o,$(1)))

CLIENT_SRC := proto/client.c proto/client_fast.c proto/client_records.c proto/frame.c proto/paths.c proto/unix_socket.c $(GEN_C)
COMMON_SRC := $(filter-out lib/fuzz_%.c,$(wildcard lib/*.c)) lib/embed.S
REPLAY_SRC := $(wildcard replay/*.c)
DAEMON_SRC := $(filter-out idsrd/main.c,$(wildcard idsrd/*.c))
CLI_SRC := $(wildcard cli/*.c) cli/page_assets.S
VMM_SRC := $(wildcard tests/vmm/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
INTEG_SRC := $(wildcard tests/integration/test_*.c)
BENCH_SRC := $(wildcard bench/*.c)

CLIENT_LIB := $(BUILD)/libidsr-client.a
CLIENT_SO := $(BUILD)/libidsr-client.so.1
COMMON_LIB := $(BUILD)/libidsr-common.a
REPLAY_LIB := $(BUILD)/libidsr-replay.a
DAEMON_LIB := $(BUILD)/libidsrd.a
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
INTEG_BINS := $(patsubst tests/integration/%.c,$(BUILD)/tests/%,$(INTEG_SRC))
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
BINS := $(BUILD)/idsrd $(BUILD)/idsrctl $(if $(VMM_SRC),$(BUILD)/idsr-vmm)

.PHONY: all man deps check check-busy check-build demo bench stress fuzz install install-client uninstall clean guests qemu
all: $(BINS) $(CLIENT_LIB) $(CLIENT_SO) guests man

deps:
	$(Q)scripts/deps.sh

# man pages: scdoc sources in man/, roff in $(BUILD)/man
MAN_PAGES := $(patsubst man/%.scd,$(BUILD)/man/%,$(wildcard man/*.scd))
man: $(MAN_PAGES)

$(BUILD)/man/%: man/%.scd
	@mkdir -p $(dir $@)
	@echo "  SCDOC   $<"
	$(Q)scdoc < $< > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/idsr.pb-c.c $(BUILD)/gen/idsr.pb-c.h: proto/idsr.proto
	@mkdir -p $(BUILD)/gen
	@echo "  PROTOC  $<"
	$(Q)protoc-c --c_out=$(BUILD)/gen -Iproto $<

# Where the binaries look for SYSCONFDIR/idsrd/registers.d: a build follows SYSCONFDIR (the
# header is rewritten when it changes); `make install` installs what was built, rebuilding
# nothing (a sanitizer build stays one), and says so when SYSCONFDIR differs from the build's.
$(BUILD)/gen/config.h: $(if $(filter install,$(MAKECMDGOALS)),,FORCE)
	@mkdir -p $(dir $@)
	$(Q)echo '#define IDSR_SYSCONFDIR "$(SYSCONFDIR)"' > $@.tmp && (cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@)
.PHONY: FORCE

$(BUILD)/obj/%.o: %.c | $(GEN_H) $(BUILD)/gen/config.h
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# the generated protobuf code is not ours to warn about
$(BUILD)/obj/$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(filter-out -Werror -Wmissing-prototypes -Wconversion -Wsign-conversion,$(CFLAGS)) -fPIC -c -o $@ $<

# embeds data/registers.tsv, data/midr.tsv and schema.sql (.incbin): data, not code
$(BUILD)/obj/lib/embed.o: lib/embed.S data/registers.tsv data/midr.tsv schema.sql
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	$(Q)$(CC) -c -o $@ $<

# the HTML pages' style and scripts (.incbin), for report and diff --html
$(BUILD)/obj/cli/page_assets.o: cli/page_assets.S $(wildcard cli/page/*)
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	$(Q)$(CC) -c -o $@ $<

# The archives depend on the Makefile too: a source moved to another module
# must leave its old archive, which no newer object would rebuild.
$(CLIENT_LIB): $(call obj,$(CLIENT_SRC)) Makefile
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $(filter %.o,$^)

# The shared client library is built position-independent from the same sources.
$(BUILD)/pic/%.o: %.c | $(GEN_H)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(filter-out -Werror -Wmissing-prototypes -Wconversion -Wsign-conversion,$(CFLAGS)) -fPIC -fvisibility=hidden -DIDSR_CLIENT_SHARED -c -o $@ $<

$(CLIENT_SO): $(patsubst %.c,$(BUILD)/pic/%.o,$(CLIENT_SRC))
	@echo "  LD      $@"
	$(Q)$(CC) -shared -Wl,-soname,libidsr-client.so.1 -o $@ $^ $(LDFLAGS) $(shell pkg-config --libs libprotobuf-c)
	$(Q)ln -sf libidsr-client.so.1 $(BUILD)/libidsr-client.so

# The installed static library exports only the idsr_* API, as the shared one
# does: frame_* and the protobuf code become local so they cannot clash with a
# VMM's own symbols. (idsrd and idsrctl link $(CLIENT_LIB), which keeps them.)
CLIENT_DIST_A := $(BUILD)/dist/libidsr-client.a
$(CLIENT_DIST_A): $(patsubst %.c,$(BUILD)/pic/%.o,$(CLIENT_SRC))
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	$(Q)$(LD) -r -o $(BUILD)/dist/idsr-client.o $^
	$(Q)objcopy --localize-hidden $(BUILD)/dist/idsr-client.o
	$(Q)rm -f $@ && ar rcs $@ $(BUILD)/dist/idsr-client.o

$(COMMON_LIB): $(call obj,$(COMMON_SRC)) Makefile
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $(filter %.o,$^)

$(REPLAY_LIB): $(call obj,$(REPLAY_SRC)) Makefile
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $(filter %.o,$^)

$(DAEMON_LIB): $(call obj,$(DAEMON_SRC)) Makefile
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $(filter %.o,$^)

LINK_ALL := $(DAEMON_LIB) $(REPLAY_LIB) $(COMMON_LIB) $(CLIENT_LIB)

$(BUILD)/idsrd: $(call obj,idsrd/main.c) $(LINK_ALL)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(LDFLAGS) $(PKG_LIBS) -lm

$(BUILD)/idsrctl: $(call obj,$(CLI_SRC)) $(REPLAY_LIB) $(COMMON_LIB) $(CLIENT_LIB)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(LDFLAGS) $(PKG_LIBS) -lm

$(BUILD)/idsr-vmm: $(call obj,$(VMM_SRC)) $(COMMON_LIB) $(CLIENT_LIB)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(LDFLAGS) $(UNICORN_LIBS) $(PKG_LIBS) -lm

$(BUILD)/tests/%: tests/unit/%.c $(LINK_ALL)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LINK_ALL) $(LDFLAGS) $(PKG_LIBS) $(CMOCKA_LIBS) -lm

$(BUILD)/tests/%: tests/integration/%.c $(LINK_ALL)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LINK_ALL) $(LDFLAGS) $(PKG_LIBS) $(CMOCKA_LIBS) -lm

$(BUILD)/bench/%: bench/%.c $(wildcard bench/*.h) $(LINK_ALL)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LINK_ALL) $(LDFLAGS) $(PKG_LIBS) -lm

# guest programs (tests/guests/Makefile.inc says how they are assembled)
-include tests/guests/guests.mk

check-build: all $(UNIT_BINS) $(INTEG_BINS)

# `make check` runs the suite, then the same suite under ASan+UBSan (in
# build-sanitize/): CI calls only `make check`. CHECK_SANITIZE=0 skips the second pass.
CHECK_SANITIZE ?= 1
check: deps
	$(Q)$(MAKE) --no-print-directory check-build
	$(Q)$(MAKE) --no-print-directory qemu
	$(Q)BUILD=$(BUILD) tests/run.sh
ifeq ($(CHECK_SANITIZE)$(SANITIZE),1)
	@echo "  CHECK   again under AddressSanitizer and UndefinedBehaviorSanitizer"
	$(Q)$(MAKE) --no-print-directory check SANITIZE=1 CHECK_SANITIZE=0
endif

# the xnu-qemu-arm64 fork with integrations/qemu/*.patch, built once into ~/.cache/idsrd
# (scripts/qemu.sh says how) and linked at $(BUILD)/qemu/qemu-system-aarch64
qemu:
	$(Q)BUILD=$(BUILD) scripts/qemu.sh

# `make check-busy`: `make check` beside two CPU hogs, which scripts/check-busy.sh
# starts and kills on every way out; BUSY_ROUNDS=3 runs it three times in a row.
check-busy: deps
	$(Q)scripts/check-busy.sh $(MAKE) --no-print-directory check

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) scripts/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all $(BENCH_BINS)
	$(Q)$(MAKE) --no-print-directory qemu
	$(Q)BUILD=$(BUILD) bench/run.sh

stress: deps
	$(Q)$(MAKE) --no-print-directory check-build
	$(Q)BUILD=$(BUILD) IDSR_STRESS=full tests/run.sh stress

fuzz: deps
	$(Q)BUILD=$(BUILD) tests/fuzz/run.sh $(FUZZ_SECONDS)

# idsr-client.pc names its directories from ${prefix} when they lie under
# PREFIX, so pkg-config --define-prefix can relocate a DESTDIR tree.
pc_dir = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

# the client library alone: what a VMM builds against (make qemu stages it this way)
install-client: $(CLIENT_SO) $(CLIENT_DIST_A)
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 0644 $(CLIENT_DIST_A) $(DESTDIR)$(LIBDIR)/libidsr-client.a
	install -m 0755 $(CLIENT_SO) $(DESTDIR)$(LIBDIR)/libidsr-client.so.1
	ln -sf libidsr-client.so.1 $(DESTDIR)$(LIBDIR)/libidsr-client.so
	install -m 0644 proto/idsr_client.h $(DESTDIR)$(INCLUDEDIR)/idsr_client.h
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(call pc_dir,$(LIBDIR))|; s|@INCLUDEDIR@|$(call pc_dir,$(INCLUDEDIR))|; s|@VERSION@|$(VERSION)|' \
	    proto/idsr-client.pc.in > $(BUILD)/dist/idsr-client.pc
	install -m 0644 $(BUILD)/dist/idsr-client.pc $(DESTDIR)$(LIBDIR)/pkgconfig/idsr-client.pc

# builds only what it installs: no guests, no idsr-vmm (they need cross binutils and Unicorn)
install: install-client $(BUILD)/idsrd $(BUILD)/idsrctl $(MAN_PAGES)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR)
	install -m 0755 $(BUILD)/idsrd $(DESTDIR)$(SBINDIR)/idsrd
	install -m 0755 $(BUILD)/idsrctl $(DESTDIR)$(BINDIR)/idsrctl
	$(Q)for m in $(MAN_PAGES); do \
	    s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	install -m 0644 systemd/idsrd.socket systemd/idsrd-control.socket $(DESTDIR)$(SYSTEMDUNITDIR)/
	sed -e '/^ExecStart=/s|/usr/local/sbin/idsrd|$(SBINDIR)/idsrd|; /^ExecStart=/s|/etc/idsrd/|$(SYSCONFDIR)/idsrd/|' \
	    systemd/idsrd.service > $(BUILD)/dist/idsrd.service
	install -m 0644 $(BUILD)/dist/idsrd.service $(DESTDIR)$(SYSTEMDUNITDIR)/idsrd.service
	install -m 0644 systemd/idsrd.sysusers $(DESTDIR)$(SYSUSERSDIR)/idsrd.conf
	install -m 0644 systemd/idsrd.tmpfiles $(DESTDIR)$(TMPFILESDIR)/idsrd.conf
	install -d $(DESTDIR)$(SYSCONFDIR)/idsrd $(DESTDIR)$(SYSCONFDIR)/idsrd/registers.d
	$(Q)grep -qF '"$(SYSCONFDIR)"' $(BUILD)/gen/config.h || echo "make install: idsrd and idsrctl were built" \
	    "to read $$(sed 's/.*"\(.*\)"/\1/' $(BUILD)/gen/config.h)/idsrd/registers.d; build with SYSCONFDIR=$(SYSCONFDIR) to read $(SYSCONFDIR)/idsrd/registers.d" >&2
	[ -e $(DESTDIR)$(SYSCONFDIR)/idsrd/policy.conf ] || install -m 0644 examples/policy.conf $(DESTDIR)$(SYSCONFDIR)/idsrd/policy.conf

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/idsrd $(DESTDIR)$(BINDIR)/idsrctl $(DESTDIR)$(LIBDIR)/libidsr-client.a \
	      $(DESTDIR)$(LIBDIR)/libidsr-client.so.1 $(DESTDIR)$(LIBDIR)/libidsr-client.so \
	      $(DESTDIR)$(INCLUDEDIR)/idsr_client.h $(DESTDIR)$(LIBDIR)/pkgconfig/idsr-client.pc \
	      $(DESTDIR)$(SYSTEMDUNITDIR)/idsrd.service $(DESTDIR)$(SYSTEMDUNITDIR)/idsrd.socket \
	      $(DESTDIR)$(SYSTEMDUNITDIR)/idsrd-control.socket $(DESTDIR)$(SYSUSERSDIR)/idsrd.conf \
	      $(DESTDIR)$(TMPFILESDIR)/idsrd.conf
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/,man8/idsrd.8 man1/idsrctl.1 man5/idsrd-policy.5 man5/idsrd-names.5)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
