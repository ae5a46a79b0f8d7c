"""The outputs beyond what common_checks reads: the HTML report in a headless browser, and the
report written by default."""
import json
import os
import re
import subprocess

from lib import BIN, OUT, ROOT, TOOL, common_checks, trace


def test_html(c):
    """The HTML report in headless Chromium (tests/html/check.mjs): it adds up to the JSON peak,
    one element per folded stack, search/zoom/timeline change what is shown, no console errors,
    no network; speedscope (npm package) opens the folded and pprof reports with the same frames
    and totals. Without any output flag, an HTML report is written and its path printed."""
    html = os.path.join(OUT, "test_html.html")
    cmd = [os.path.join(BIN, "go_bench"), "20000", "1"]
    p, data = trace(["-q", "--html", html], "test_html", cmd)
    if not common_checks(c, data, p):
        return
    shot = os.environ.get("TASKMEM_SCREENSHOT", "")
    q = subprocess.run(["node", os.path.join(ROOT, "tests", "html", "check.mjs"), html,
                        os.path.join(OUT, "test_html.json"), os.path.join(OUT, "test_html.folded"),
                        "--pprof", os.path.join(OUT, "test_html.pb.gz")] +
                       ([shot] if shot else []), capture_output=True, text=True, timeout=300)
    for line in (q.stdout + q.stderr).splitlines():
        if line.startswith("FAIL") or q.returncode:
            c.ok(False, line)
    c.ok(q.returncode == 0 and re.search(r"html: \d+ passed, 0 failed", q.stdout), "browser checks ran and passed")
    # the same checks, axes included, on a run of over 1 GiB and on a tiny one (KiB)
    for name, cmd in (("test_html_big", [os.path.join(BIN, "c_daemon"), "1200", "0.3"]), ("test_html_tiny", ["python3", "-c", "import time; time.sleep(0.15); b = bytearray(8 << 20); time.sleep(0.15)"])):
        page = os.path.join(OUT, name + ".html")
        p, data = trace(["-q", "--html", page], name, cmd)
        if not c.ok(data and p.returncode == 0, f"{name}: the run worked ({p.stderr[-200:]!r})"):
            continue
        q = subprocess.run(["node", os.path.join(ROOT, "tests", "html", "check.mjs"), page,
                            os.path.join(OUT, name + ".json"), os.path.join(OUT, name + ".folded")],
                           capture_output=True, text=True, timeout=300)
        for line in (q.stdout + q.stderr).splitlines():
            if line.startswith("FAIL") or q.returncode:
                c.ok(False, f"{name}: {line}")
        c.ok(q.returncode == 0 and re.search(r"html: \d+ passed, 0 failed", q.stdout), f"{name}: browser checks passed")
    # at scale: 4^7 distinct stacks known by construction and over 10k timeline samples (1 ms)
    exe = os.path.join(OUT, "many_stacks")
    b = subprocess.run(["gcc", "-O0", "-g", "-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer",
                        "-fno-optimize-sibling-calls", "-o", exe, os.path.join(ROOT, "tests", "programs", "many_stacks.c")],
                       capture_output=True, text=True)
    if c.ok(b.returncode == 0, f"many_stacks builds ({b.stderr[-200:]!r})"):
        page = os.path.join(OUT, "test_html_10k.html")
        p, data = trace(["-q", "--interval", "1", "--html", page], "test_html_10k", [exe, "7", "15"])
        if c.ok(data and p.returncode == 0, f"test_html_10k: the run worked ({p.stderr[-200:]!r})"):
            stacks = sum(1 for s in data["peak"]["stacks"] if any(re.fullmatch(r"f[0-3]", f) for f in s["frames"]))
            c.ok(stacks >= 10000 and len(data["timeline"]) >= 10000,
                 f"test_html_10k: the run has {stacks} of the program's stacks and {len(data['timeline'])} samples (10k each wanted)")
            text = open(page).read()
            mark = '<script type="application/json" id="data">'
            d = json.loads(text[text.index(mark) + len(mark):text.index("</script>", text.index(mark))])
            c.ok(len(d["samples"]) <= 4000 and any(s.get("abs") for s in d["samples"]),
                 f"test_html_10k: the page holds {len(d['samples'])} samples (at most 4000, the exact peak among them), {len(text)} bytes")
            q = subprocess.run(["node", os.path.join(ROOT, "tests", "html", "check.mjs"), page,
                                os.path.join(OUT, "test_html_10k.json"), os.path.join(OUT, "test_html_10k.folded")],
                               capture_output=True, text=True, timeout=300)
            for line in (q.stdout + q.stderr).splitlines():
                if line.startswith("FAIL") or q.returncode:
                    c.ok(False, f"test_html_10k: {line}")
                elif line.startswith("html: ") and "drawn" in line:
                    print("test_html_10k: " + line)
            c.ok(q.returncode == 0 and re.search(r"html: \d+ passed, 0 failed", q.stdout), "test_html_10k: browser checks passed")
    # no output flag: a report in the current directory, its path on stderr, owned by the sudo user
    d = os.path.join(OUT, "default_report")
    subprocess.run(["rm", "-rf", d])
    os.makedirs(d)
    p = subprocess.run([TOOL, "-q", "--", "/bin/true"], cwd=d, capture_output=True, text=True,
                       env=dict(os.environ, SUDO_UID="65534", SUDO_GID="65534"))
    m = re.search(r"report: (\S+\.html)", p.stderr)
    if c.ok(p.returncode == 0 and m, f"no output flag: report path printed ({p.stderr.strip()!r})"):
        path = os.path.join(d, m.group(1))
        c.ok(os.path.exists(path) and os.stat(path).st_uid == 65534, "default report exists, owned by SUDO_UID")
        c.ok(os.listdir(d) == [m.group(1)], f"only the report is left in the directory: {os.listdir(d)}")
        text = open(path).read() if os.path.exists(path) else ""
        c.ok("/*TASKMEM_DATA*/" not in text and '"command":["/bin/true"]' in text, "the report holds the run's data")
