# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Build in the way of libbpf-bootstrap: BPF object -> bpftool gen object -> skeleton -> tool.
OUTPUT ?= .output
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= cc
PREFIX ?= /usr/local
ARCH ?= $(shell uname -m | sed 's/x86_64/x86/' | sed 's/aarch64/arm64/')
VMLINUX := vmlinux/$(ARCH)/vmlinux.h
INCLUDES := -I$(OUTPUT) -Iinclude -Ivmlinux/$(ARCH)
CFLAGS ?= -g -O2
# always on, even when CFLAGS is given on the command line
override CFLAGS += -Wall -Wextra -Wno-unused-parameter -Werror -std=gnu11 -D_GNU_SOURCE
SAN_FLAGS := -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
LDLIBS := -lbpf -ldw -lelf -lz -liberty -ljansson -lm
# clang's own system includes, so that BPF code sees asm/types.h etc. (libbpf-bootstrap)
CLANG_BPF_SYS_INCLUDES ?= $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')

USER_SRCS := $(wildcard user/*.c)
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/%.o,$(USER_SRCS))
LIB_OBJS := $(filter-out $(OUTPUT)/main.o,$(USER_OBJS))
UNIT_TESTS := $(patsubst tests/unit/%.c,$(OUTPUT)/unit/%,$(wildcard tests/unit/*.c))

ifeq ($(V),1)
	Q =
	msg =
else
	Q = @
	msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.PHONY: all clean install test unit-test bench vmlinux sanitize fuzz compare docs golden go-toolchains fresh-check trixie-root bench-trixie
all: taskmem-trace

$(OUTPUT) $(OUTPUT)/unit:
	$(Q)mkdir -p $@

$(OUTPUT)/taskmem.bpf.o: bpf/taskmem.bpf.c $(wildcard bpf/*.bpf.h) $(wildcard include/*.h) $(VMLINUX) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) $(INCLUDES) \
		$(CLANG_BPF_SYS_INCLUDES) -c $< -o $(patsubst %.bpf.o,%.tmp.bpf.o,$@)
	$(Q)$(BPFTOOL) gen object $@ $(patsubst %.bpf.o,%.tmp.bpf.o,$@)

$(OUTPUT)/taskmem.skel.h: $(OUTPUT)/taskmem.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(OUTPUT)/%.o: user/%.c $(wildcard user/*.h) $(wildcard include/*.h) $(OUTPUT)/taskmem.skel.h | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -Iuser -c $< -o $@

# the HTML report's page and the differential pages' code are built into the binary (.incbin)
$(OUTPUT)/html.o: user/report.html user/report_diff.js

taskmem-trace taskmem-trace-san: $(USER_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/unit/%: tests/unit/%.c tests/unit/check.h $(LIB_OBJS) | $(OUTPUT)/unit
	$(call msg,UNIT,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -Iuser $< $(LIB_OBJS) $(LDLIBS) -o $@

unit-test: $(UNIT_TESTS)

# docs/classification.md's tables, remade from user/classify.c's (the unit tests fail when the
# two differ; the prose around them is written by hand)
docs: $(OUTPUT)/unit/test_classify
	$(Q)$< --docs docs/classification.md > $(OUTPUT)/classification.md && \
		mv $(OUTPUT)/classification.md docs/classification.md

# The README's test command: unit tests, then the real tool as root on real workloads.
test: taskmem-trace unit-test bench
	$(Q)tests/run.sh

bench:
	$(Q)$(MAKE) -C bench

# The "1 million concurrent tasks" table, explained (issue 4): every bench program at each N,
# untraced and traced; writes bench/out/compare.{md,svg,json}. e.g. COMPARE_ARGS="--n 1 10000"
compare: taskmem-trace bench
	$(Q)bench/compare.py $(COMPARE_ARGS)

# The tool and unit tests under AddressSanitizer + UBSan, in their own output dir, then the tests.
sanitize:
	$(MAKE) OUTPUT=.output-san CFLAGS="$(SAN_FLAGS)" TOOL_BIN=taskmem-trace-san taskmem-trace-san unit-test bench
	TASKMEM_PASS=sanitize TASKMEM_TRACE=$(CURDIR)/taskmem-trace-san UNIT_DIR=.output-san/unit tests/run.sh

# The README's two commands on a freshly debootstrapped Debian 12 root, in a chroot (issue 16):
# fails if either fails. ~20 min the first time (measured: debootstrap 2, setup.sh 6, make test
# 11), the base root and downloads cached in /var/cache/taskmem-trace/fresh for the next.
# FRESH_FROM=worktree copies uncommitted edits too (default: HEAD).
fresh-check:
	scripts/fresh-debian-check.sh

# A Debian trixie root with JDK 21, Go 1.24, Rust 1.85 + tokio 1.43 and CPython 3.13, which need
# trixie's glibc (issues 17, 20): made once in /var/cache/taskmem-trace/trixie (~5 min, ~1.5 GB),
# then reused; tests run programs in it by chroot with `scripts/trixie-root.sh --run DIR CMD...`.
trixie-root:
	scripts/trixie-root.sh

# The benchmarks of that root (JDK 21 virtual threads, Go 1.24, Rust 1.85 + tokio 1.43), built by
# its toolchains into it (bench/Makefile's `trixie`): the rows `make compare` adds when it is there.
bench-trixie: trixie-root
	$(Q)$(MAKE) -C bench trixie

# libFuzzer (clang, libclang-rt-14-dev) on the parsers of what a traced program controls:
# tests/fuzz/fuzz_NAME.c, seeds in tests/fuzz/corpus/NAME, crashes kept in tests/fuzz/regressions/NAME.
# `make fuzz` fuzzes each for FUZZ_SECONDS (0: only replay), then replays seeds and regressions.
FUZZ_SECONDS ?= 20
FUZZ_CC ?= clang
FUZZ_FLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-Wall -Wextra -Wno-unused-parameter -Werror -std=gnu11 -D_GNU_SOURCE
# every module but the ones that load BPF, launch or write reports (an archive: harnesses take what they use)
FUZZ_LIB_OBJS := $(patsubst user/%.c,$(OUTPUT)/fuzz/obj/%.o,$(filter-out \
	$(addprefix user/,main.c cmd_report.c tracer.c launcher.c report.c pprof.c html.c),$(USER_SRCS)))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(OUTPUT)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

$(OUTPUT)/fuzz/obj:
	$(Q)mkdir -p $@

$(OUTPUT)/fuzz/obj/%.o: user/%.c $(wildcard user/*.h) $(wildcard include/*.h) | $(OUTPUT)/fuzz/obj
	$(call msg,CC-FUZZ,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(INCLUDES) -Iuser -c $< -o $@

# an archive, so that a harness that compiles a module in itself (fuzz_smaps) wins over its member
$(OUTPUT)/fuzz/libtm.a: $(FUZZ_LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUTPUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $(OUTPUT)/fuzz/libtm.a
	$(call msg,FUZZER,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $(INCLUDES) -Iuser $< $(OUTPUT)/fuzz/libtm.a $(LDLIBS) -o $@

fuzz: $(FUZZ_BINS)
	$(Q)tests/fuzz/run.sh $(OUTPUT)/fuzz $(FUZZ_SECONDS)

vmlinux:
	scripts/gen-vmlinux.sh $(ARCH)

# Re-record tests/data/*.tmt and their golden JSON (as root), checked by tests/unit/test_replay.c
golden: taskmem-trace
	scripts/golden.sh $(GOLDEN)

# Go 1.22, 1.23 (bookworm-backports) and 1.24 (trixie) for test_go_versions, into a cache
# outside the tree (GO_CACHE, default /var/cache/taskmem-trace/go); quick once there.
go-toolchains:
	scripts/go-toolchains.sh $(GO_CACHE)

install: taskmem-trace
	install -D -m 0755 taskmem-trace $(DESTDIR)$(PREFIX)/bin/taskmem-trace
	install -D -m 0644 man/taskmem-trace.8 $(DESTDIR)$(PREFIX)/share/man/man8/taskmem-trace.8

clean:
	rm -rf $(OUTPUT) .output-san taskmem-trace taskmem-trace-san
	$(MAKE) -C bench clean

.DELETE_ON_ERROR:
.SECONDARY:
