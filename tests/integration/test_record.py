"""Record now, report later: `taskmem-trace record -o run.tmt` writes the live outputs and a
recording; `taskmem-trace report run.tmt` renders the same outputs from the recording alone, as
another user, byte for byte (a command's tree, and a process attached with -p); a recording cut short or corrupt is refused in one line (exit 2).
The replay of committed recordings against golden JSON, without a kernel, is
tests/unit/test_replay.c."""
import json
import os
import shutil
import subprocess
import tempfile

from lib import BIN, KNOWN_FILE, OUT, TOOL

FORMATS = ("json", "html", "folded", "pprof", "trace")


def outputs(prefix):
    return [a for f in FORMATS for a in (f"--{f}", f"{prefix}.{f}")]


def as_nobody():
    """report needs no root: run it as nobody when setpriv can (the files are readable)."""
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if shutil.which("setpriv") else []


def summary(text):
    return "\n".join(line for line in text.splitlines() if not line.startswith("report: "))


def test_record_report(c):
    runs = (("go", [os.path.join(BIN, "go_bench"), "2000"]),
            # a shell's fork tree; c_frees frees by mremap, madvise, munmap and brk
            ("tree", ["/bin/sh", "-c", f"{BIN}/c_frees & {BIN}/c_known {KNOWN_FILE} 16 1 2 16 16; wait"]))
    # in /tmp: report runs as nobody, who may not reach a checkout under /root
    work = tempfile.mkdtemp(prefix="taskmem-test_record.")
    os.chmod(work, 0o777)  # the report's outputs, written as nobody
    for name, cmd in runs:
        rec, live, rep = (os.path.join(work, name + s) for s in (".tmt", ".live", ".report"))
        p = subprocess.run([TOOL, "record", "-o", rec] + outputs(live) + ["--"] + cmd,
                           capture_output=True, text=True, timeout=600)
        if not c.ok(p.returncode == 0 and os.path.exists(rec), f"{name}: record ran ({p.stderr[-300:]!r})"):
            continue
        data = json.load(open(live + ".json"))
        c.ok(len(data["processes"]) >= (3 if name == "tree" else 1) and data["peak"]["kernel_rss_bytes"] > 0,
             f"{name}: the live JSON has the run ({len(data['processes'])} processes)")
        q = subprocess.run(as_nobody() + [TOOL, "report", rec] + outputs(rep), capture_output=True,
                           text=True, timeout=300)
        if not c.ok(q.returncode == 0, f"{name}: report exit 0 ({q.stderr[-300:]!r})"):
            continue
        for f in FORMATS:
            same = open(live + "." + f, "rb").read() == open(rep + "." + f, "rb").read()
            c.ok(same, f"{name}: --{f} from the recording is byte-identical to the live one")
        c.ok(summary(q.stderr) == summary(p.stderr), f"{name}: the same summary on stderr")
        c.ok(os.path.getsize(rec) < 4 << 20, f"{name}: the recording is small ({os.path.getsize(rec)} bytes)")
    # -p: a process the tool did not start (c_faulter paced: still faulting when the tool
    # attaches and stops), recorded and reported alike
    target = subprocess.Popen([os.path.join(BIN, "c_faulter"), "1", "64", "2000"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        rec, live, rep = (os.path.join(work, "attach" + s) for s in (".tmt", ".live", ".report"))
        p = subprocess.run([TOOL, "record", "-o", rec, "-p", str(target.pid), "--duration", "2"] + outputs(live),
                           capture_output=True, text=True, timeout=120)
        if c.ok(p.returncode == 0 and os.path.exists(rec), f"attach: record -p ran ({p.stderr[-300:]!r})"):
            q = subprocess.run(as_nobody() + [TOOL, "report", rec] + outputs(rep), capture_output=True,
                               text=True, timeout=300)
            if c.ok(q.returncode == 0, f"attach: report exit 0 ({q.stderr[-300:]!r})"):
                for f in FORMATS:
                    same = open(live + "." + f, "rb").read() == open(rep + "." + f, "rb").read()
                    c.ok(same, f"attach: --{f} from the recording is byte-identical to the live one")
    finally:
        target.kill()
        target.wait()
    # refused: cut short, a byte changed, not a recording; nothing is written
    rec = os.path.join(work, "go.tmt")
    if os.path.exists(rec):
        blob = open(rec, "rb").read()
        bad = {"truncated": blob[:len(blob) // 2], "corrupt": blob[:len(blob) // 2] + bytes([blob[len(blob) // 2] ^ 0x40]) + blob[len(blob) // 2 + 1:],
               "not a taskmem-trace recording": b"{}\n" * 100}
        for what, content in bad.items():
            path = os.path.join(work, "bad.tmt")
            open(path, "wb").write(content)
            out = os.path.join(work, "bad.json")
            r = subprocess.run([TOOL, "report", path, "--json", out], capture_output=True, text=True, timeout=60)
            c.ok(r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and what in r.stderr and
                 not os.path.exists(out), f"{what}: refused in one line, exit 2, no output ({r.returncode}, {r.stderr!r})")
    r = subprocess.run([TOOL, "report", os.path.join(work, "missing.tmt")], capture_output=True, text=True)
    c.ok(r.returncode == 2 and "cannot read" in r.stderr, f"a missing recording: exit 2 ({r.stderr!r})")
    if not c.fails:
        shutil.rmtree(work)
