#!/usr/bin/env bash
# Regenerate the committed seed corpora in tests/fuzz/corpus/ from real inputs: tiny ELF files
# built here (executable with .symtab, stripped PIE and shared object with only .dynsym, a
# relocatable object, a Go look-alike with .gopclntab and runtime.main) and real /proc/PID/maps and
# smaps text of a short-lived process (trimmed, to keep the corpus small), part of a perf map node
# wrote, Go function tables in the 1.16 and 1.18+ layouts, mangled C++ and Rust names.
# Run by hand, not in CI.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
c=corpus
mkdir -p $c/elfsyms $c/procmaps $c/smaps $c/perfmap $c/gopclntab $c/demangle $c/unwind $c/recording

cat >"$tmp/tiny.c" <<'SRC'
static int helper(int x) { return x * 3 + 1; }
int exported(int x) { return helper(x) + 2; }
void _start(void) { __asm__ volatile("mov $60, %%eax; xor %%edi, %%edi; syscall" ::: "memory"); }
SRC
cat >"$tmp/golike.c" <<'SRC'
/* what elfsyms.c takes for Go: a .gopclntab section and a runtime.main symbol */
__attribute__((section(".gopclntab"), used)) static const char pcln[16] = "\xf1\xff\xff\xff";
void rmain(void) __asm__("runtime.main");
void rmain(void) {}
void _start(void) { rmain(); for (;;) __asm__ volatile("mov $60, %eax; xor %edi, %edi; syscall"); }
SRC
cc -Os -nostdlib -static -fno-asynchronous-unwind-tables -Wl,--build-id=none -o $c/elfsyms/static-symtab "$tmp/tiny.c"
cc -Os -nostdlib -static-pie -fPIE -fno-asynchronous-unwind-tables -Wl,--build-id=none -o "$tmp/pie" "$tmp/tiny.c"
strip -o $c/elfsyms/pie-stripped "$tmp/pie"
cc -Os -nostdlib -shared -fPIC -fno-asynchronous-unwind-tables -Wl,--build-id=none -o "$tmp/lib.so" "$tmp/tiny.c"
strip -o $c/elfsyms/shared-dynsym-only "$tmp/lib.so"
cc -Os -c -fno-asynchronous-unwind-tables -o $c/elfsyms/relocatable.o "$tmp/tiny.c"
cc -Os -nostdlib -static -fno-asynchronous-unwind-tables -Wl,--build-id=none -o $c/elfsyms/go-like "$tmp/golike.c"
printf '\177ELF' >$c/elfsyms/magic-only
# unwind tables: the same code with .eh_frame and .eh_frame_hdr, without and with frame pointers
cc -Os -nostdlib -shared -fPIC -fasynchronous-unwind-tables -fomit-frame-pointer -Wl,--eh-frame-hdr \
	-Wl,--build-id=none -o $c/unwind/shared-nofp "$tmp/tiny.c"
cc -O0 -nostdlib -static -fasynchronous-unwind-tables -fno-omit-frame-pointer -Wl,--eh-frame-hdr \
	-Wl,--build-id=none -o $c/unwind/static-fp "$tmp/tiny.c"
# every CFI rule user/unwind.c reads itself (state stack, rbp-based CFA, offsets, expressions,
# restores), and a CFA expression it leaves to libdw
cat >"$tmp/cfi.s" <<'SRC'
.text
.globl ops
ops:
.cfi_startproc
 push %rbp
 .cfi_adjust_cfa_offset 8
 .cfi_offset %rbp, -16
 mov %rsp, %rbp
 .cfi_def_cfa_register %rbp
 .cfi_remember_state
 nop
 .cfi_def_cfa %rsp, 8
 .cfi_restore %rbp
 .cfi_undefined %rbx
 .cfi_same_value %r12
 .cfi_val_offset %r13, -24
 .cfi_register %r14, %r15
 .cfi_escape 0x2e, 0x10
 nop
 .cfi_restore_state
 .cfi_escape 0x10, 0x06, 0x02, 0x23, 0x10
 .cfi_escape 0x11, 0x06, 0x7e
 nop
 .cfi_escape 0x16, 0x10, 0x00
 nop
 pop %rbp
 ret
.cfi_endproc
.globl expr
expr:
.cfi_startproc
 nop
 .cfi_escape 0x0f, 0x02, 0x77, 0x10
 nop
 ret
.cfi_endproc
SRC
cc -nostdlib -shared -Wl,--eh-frame-hdr -Wl,--build-id=none -o $c/unwind/cfi-ops "$tmp/cfi.s"

# maps and smaps of a real process that maps a file whose name has spaces and is then deleted
f="$tmp/a file (x)"
head -c 8192 /dev/urandom >"$f"
python3 - "$f" "$tmp" <<'PY'
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
m = mmap.mmap(fd, 8192, prot=mmap.PROT_READ)
m[0]
os.unlink(sys.argv[1])
anon = mmap.mmap(-1, 1 << 20)
anon[0:4096] = b"x" * 4096
maps = open("/proc/self/maps").read().splitlines()
smaps = open("/proc/self/smaps").read().splitlines()
def pick(lines, head=lambda l: l):
    """a few of each kind, in address order: the binary, libc, deleted files, anonymous, [...]"""
    kinds = ("python3", "libc.so", "(deleted)", "[", "")
    out, n = [], {k: 0 for k in kinds}
    for l in lines:
        h = head(l)
        k = next(k for k in kinds if (k in h if k else len(h.split()) == 5))  if any(
            (k in h if k else len(h.split()) == 5) for k in kinds) else None
        if k is not None and n[k] < 3:
            n[k] += 1
            out.append(l)
    return out
open(sys.argv[2] + "/maps", "w").write("\n".join(pick(maps)) + "\n")
# smaps: whole entries (a header line and its fields)
ents, cur = [], []
for l in smaps:
    if not l.split(" ")[0].endswith(":"):
        cur = [l]
        ents.append(cur)
    else:
        cur.append(l)
open(sys.argv[2] + "/smaps", "w").write("\n".join(l for e in pick(ents, lambda e: e[0]) for l in e) + "\n")
PY
cp "$tmp/maps" $c/procmaps/python3-maps
cp "$tmp/smaps" $c/smaps/python3-smaps
# a Go process's arena (0xc0_0000_0000) as -p sees it; the first byte of a smaps input says
# "Go" (1) or not (0), see fuzz_smaps.c
{ printf '\001'; printf 'c000000000-c004000000 rw-p 00000000 00:00 0 \nSize:              65536 kB\nRss:               40960 kB\nAnonymous:         40960 kB\nVmFlags: rd wr mr mw me ac \n'; } >$c/smaps/go-arena
{ printf '\000'; cat "$tmp/smaps"; } >$c/smaps/python3-smaps
printf '%s\n' '00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon' \
	'7f5e-7f5f rw-p 00000000 00:00 0 ' 'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]' \
	'1000-2000 r--s 00001000 00:05 42 /memfd:x (deleted)' >$c/procmaps/proc5-example

# a perf map as node --perf-basic-prof writes it: its first and last lines
(cd "$tmp" && exec node --perf-basic-prof -e 'function hot(n) { let s = 0; for (let i = 0; i < n; i++) s += i; return s }
for (let k = 0; k < 2000; k++) hot(1000)') &
wait $!
m=/tmp/perf-$!.map
{ head -12 "$m"; tail -4 "$m"; } >$c/perfmap/node
rm -f "$m"
printf '0x1000 0x20 [vdso-like]\r\n2000 10 tab\tname\n3000 0 zero size\nfffffffffffffff0 20 wraps\n1008 8 later wins\npartial line' >$c/perfmap/edge-cases

# .gopclntab with three functions, after the 8-byte .text address the harness takes first
python3 - $c/gopclntab <<'PY'
import struct, sys
names = [b"main.main", b"runtime.main", b"main.work"]
def table(magic, ps, old):
    nt = b"".join(n + b"\0" for n in names)
    noff = [sum(len(n) + 1 for n in names[:i]) for i in range(len(names))]
    words = 7 if old else 8
    hdr = 8 + words * ps
    functab = hdr + len(nt)
    esz = 2 * ps if old else 8
    funcs = functab + (len(names) + 1) * esz
    fsz = ps + 4 if old else 8
    tab = b""
    for i in range(len(names) + 1):
        entry = 0x401000 + 0x100 * i if old else 0x100 * i
        foff = funcs - functab + fsz * min(i, len(names) - 1)
        tab += struct.pack("<QQ", entry, foff) if old else struct.pack("<II", entry, foff)
    fn = b"".join((struct.pack("<Q", 0x401000 + 0x100 * i) if old else struct.pack("<I", 0x100 * i)) +
                  struct.pack("<i", noff[i]) for i in range(len(names)))
    w = [len(names), 0] + ([] if old else [0x401000]) + [hdr, 0, 0, 0, functab]
    h = struct.pack("<IBBBB", magic, 0, 0, 1, ps) + b"".join(struct.pack("<Q", x) for x in w)
    return struct.pack("<Q", 0x401000) + h + nt + tab + fn
open(sys.argv[1] + "/go116", "wb").write(table(0xfffffffa, 8, True))
open(sys.argv[1] + "/go120", "wb").write(table(0xfffffff1, 8, False))
PY

# recordings, made from docs/recording.md by an encoder of their own; the first byte is
# fuzz_recording.c's mode: 0 a file, 1 a record stream (then a block size byte), 2 records to
# write, 3 a block's length and compressed bytes
python3 - $c/recording <<'PY'
import struct, sys, zlib
d = sys.argv[1]
def rec(t, payload):
    return struct.pack("<II", t, len(payload)) + payload
def stream(recs):
    body = b"".join(rec(t, p) for t, p in recs)
    return body + rec(1, struct.pack("<QQ", len(recs), sum(len(p) for _, p in recs)))
def blocks(data, size):
    out, seq = b"", 0
    for i in range(0, len(data), size):
        z = zlib.compressobj(1, zlib.DEFLATED, -15)
        c = z.compress(data[i:i + size]) + z.flush()
        h = struct.pack("<III", len(c), len(data[i:i + size]), zlib.crc32(c))
        out += h + struct.pack("<I", zlib.crc32(h, zlib.crc32(struct.pack("<I", seq)))) + c
        seq += 1
    return out
def recording(recs, size=262144, flags=0, tool=b"taskmem-trace 0.1"):
    h = b"\x89TMT\r\n\x1a\n" + struct.pack("<III", 1, flags, len(tool)) + tool
    return h + struct.pack("<I", zlib.crc32(h)) + blocks(stream(recs), size)
def s(b):
    return struct.pack("<I", len(b)) + b
event = struct.pack("<QHBBIIIIiQQQQQQQ16s", 123456789, 3, 1, 2, 1, 42, 42, 7, 5, 0x7f0000000000, 4096,
                    0, 8192, 0, 0, 0, b"worker")
recs = [(2, s(b"taskmem-trace") + s(b"--") + s(b"./prog")), (3, event),
        (4, struct.pack("<IQ", 42, 123) + s(b"55d0c0000000-55d0c0001000 r-xp 00001000 fe:01 123 /usr/bin/prog\n")),
        (5, struct.pack("<IQ", 42, 123) + s(b"/usr/bin/prog")), (8, struct.pack("<II", 5, 2) + struct.pack("<QQ", 0x401000, 0x401100)),
        (11, struct.pack("<Q", 987654321))]
open(d + "/file", "wb").write(b"\0" + recording(recs))
open(d + "/file-small-blocks", "wb").write(b"\0" + recording(recs, size=40, flags=1))
open(d + "/file-empty", "wb").write(b"\0" + recording([]))
open(d + "/stream", "wb").write(b"\1\x1f" + stream(recs))
open(d + "/stream-1-byte-blocks", "wb").write(b"\1\0" + stream(recs[:3]))
open(d + "/write", "wb").write(b"\2" + struct.pack("<I", 0xffffffff) + b"".join(
    struct.pack("<BH", t, len(p)) + p for t, p in recs))
z = zlib.compressobj(1, zlib.DEFLATED, -15)
open(d + "/block", "wb").write(b"\3" + struct.pack("<I", len(stream(recs))) + z.compress(stream(recs)) + z.flush())
PY
printf '%s' _ZN3foo3barEv >$c/demangle/cxx
printf '%s' '_ZNSt6vectorIiSaIiEE9push_backERKi' >$c/demangle/cxx-template
printf '%s' '_ZN4core3fmt5write17h0123456789abcdefE' >$c/demangle/rust-legacy
printf '%s' '_RNvCs1234_7mycrate3foo' >$c/demangle/rust-v0
printf '%s' '_ZZN1A1fEvE1xB5cxx11' >$c/demangle/cxx-local
du -sh $c
