// Loads an HTML report of taskmem-trace in Debian's headless Chromium and checks it against the
// JSON and folded reports of the same run (written by the tool from the same data, but by other
// code: the page's numbers come from its own replay of the timeline in the browser).
// With --pprof, speedscope (the npm package's built page, from node_modules) opens the folded and
// the pprof reports too and must show the same frames and bytes.
// usage: node check.mjs REPORT.html REPORT.json REPORT.folded [--pprof REPORT.pb.gz] [SCREENSHOT.png]
// Prints one line per failed check and "html: N passed, N failed"; exit 1 on any failure.
import { openReport } from "./page.mjs";
import fs from "node:fs";
import path from "node:path";

const args = process.argv.slice(2), pi = args.indexOf("--pprof");
const pprofPath = pi >= 0 ? args.splice(pi, 2)[1] : null;
const [html, jsonPath, foldedPath, shot] = args;
const J = JSON.parse(fs.readFileSync(jsonPath, "utf8"));
const folded = fs.readFileSync(foldedPath, "utf8").trim().split("\n");
let passed = 0, failed = 0;
function check(cond, what) {
  if (cond) passed++;
  else { failed++; console.log("FAIL html: " + what); }
}

const { browser, page, errors, requests } = await openReport(html);
try {

  check(errors.length === 0, "console errors: " + errors.join(" | "));
  check(requests.length === 0, "network requests: " + requests.join(" "));

  /* fast at any size (10k stacks, 10k samples): the first draw, counted from the navigation, and a
   * redraw after a click, timed by the page (performance.now) until the next frame is painted;
   * the best of three, as other work on the machine only ever adds time */
  const FIRST_MS = 2500, REDRAW_MS = 1000, TRIES = 3;
  const painted = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r)));
  let firstMs = Infinity;
  for (let i = 0; i < TRIES; i++) {
    if (i) { await page.reload(); await page.waitForSelector(".fg-node"); }
    firstMs = Math.min(firstMs, await page.evaluate(async (p) => { await eval(p)(); return performance.now(); }, painted.toString()));
  }
  check(firstMs < FIRST_MS, `first draw took ${firstMs.toFixed(0)} ms (bound ${FIRST_MS})`);
  const timed = (sel, arg) => page.evaluate(async ([sel, arg, p]) => {
    const t0 = performance.now(), el = document.querySelector(sel);
    if (arg) { const b = el.getBoundingClientRect(); el.dispatchEvent(new MouseEvent("mousedown", { clientX: b.x + b.width * arg, clientY: b.y + b.height / 2, bubbles: true })); dispatchEvent(new MouseEvent("mouseup")); }
    else el.click();
    await eval(p)();
    return performance.now() - t0;
  }, [sel, arg, painted.toString()]);
  const nodes0 = await page.$$eval(".fg-node", (e) => e.length);
  const times = { zoomIn: Infinity, zoomOut: Infinity, timeline: Infinity, peak: Infinity };
  for (let i = 0; i < TRIES; i++) {
    times.zoomIn = Math.min(times.zoomIn, await timed(".fg-node[data-self]"));
    times.zoomOut = Math.min(times.zoomOut, await timed(".fg-node[data-path='']"));
    times.timeline = Math.min(times.timeline, await timed("#timeline", 0.4));
    times.peak = Math.min(times.peak, await timed("#topeak"));
  }
  for (const [k, ms] of Object.entries(times)) check(ms < REDRAW_MS, `redraw after ${k} took ${ms.toFixed(0)} ms (bound ${REDRAW_MS}, ${nodes0} frames drawn)`);
  console.log(`html: ${nodes0} frames drawn, first draw ${firstMs.toFixed(0)} ms, redraws ` +
    Object.entries(times).map(([k, ms]) => `${k} ${ms.toFixed(0)} ms`).join(", "));
  /* the drawing holds the timeline's exact peak: by the page's count of what it drew, and on the
   * axis (the highest point of the areas, within a pixel, where the axis' labels put the peak) */
  const jpeak = Math.max(...J.timeline.map((s) => s.rss_bytes));
  check(+(await page.getAttribute("#timeline", "data-drawn-peak")) === jpeak,
    `the timeline drew a peak of ${await page.getAttribute("#timeline", "data-drawn-peak")} bytes, the JSON timeline's is ${jpeak}`);
  const geo = await page.$eval("#timeline", (svg) => ({
    top: [...svg.querySelectorAll("polygon.area")].reduce((m, p) => { for (const q of p.points) m = Math.min(m, q.y); return m; }, Infinity),
    labels: [...svg.querySelectorAll("text.ylabel")].map((t) => [t.textContent, +t.getAttribute("y") - 4]),
  }));
  {
    const U = { B: 1, KiB: 1 << 10, MiB: 1 << 20, GiB: 2 ** 30, TiB: 2 ** 40 };
    const val = (t) => { const m = t.match(/^([\d.]+) (\w+)$/); return m ? parseFloat(m[1]) * U[m[2]] : NaN; };
    const [a, b] = [geo.labels[0], geo.labels[geo.labels.length - 1]];
    const want = a[1] + (b[1] - a[1]) * (jpeak - val(a[0])) / (val(b[0]) - val(a[0]));
    check(Math.abs(geo.top - want) <= 1, `the timeline's highest point is at y ${geo.top}, the JSON peak is at y ${want.toFixed(1)}`);
  }
  /* the kernel's share: a line of its own over the areas, at the JSON's samples, its highest
   * point where the axis puts their largest total; none without a JSON kernel part */
  {
    const kl = await page.$eval("#timeline", (svg) => {
      const l = svg.querySelector("#kernelline");
      return l ? { n: l.points.length, top: [...l.points].reduce((m, q) => Math.min(m, q.y), Infinity), stroke: l.getAttribute("stroke") } : null;
    });
    const legend = await page.$("#kernel-legend");
    if (J.kernel && J.kernel.samples.length) {
      const U = { B: 1, KiB: 1 << 10, MiB: 1 << 20, GiB: 2 ** 30, TiB: 2 ** 40 };
      const val = (t) => { const m = t.match(/^([\d.]+) (\w+)$/); return m ? parseFloat(m[1]) * U[m[2]] : NaN; };
      const [a, b] = [geo.labels[0], geo.labels[geo.labels.length - 1]];
      const kmax = Math.max(...J.kernel.samples.map((x) => x.total_bytes));
      const want = a[1] + (b[1] - a[1]) * (kmax - val(a[0])) / (val(b[0]) - val(a[0]));
      check(kl && kl.n === 2 * J.kernel.samples.length, `the kernel line has ${kl && kl.n} points for ${J.kernel.samples.length} samples`);
      check(kl && Math.abs(kl.top - want) <= 1, `the kernel line's highest point is at y ${kl && kl.top}, the JSON's largest kernel total at y ${want.toFixed(1)}`);
      check(kl && !Object.values(await page.evaluate(() => COLORS)).includes(kl.stroke), `the kernel line has a colour of its own, not ${kl && kl.stroke}`);
      check(legend !== null, "the legend has the kernel's share");
    } else {
      check(!kl && !legend, "a kernel line or legend without a JSON kernel part");
    }
  }
  /* a "n more" box shows what it holds when clicked: the same bytes, at the full width */
  const more = await page.$$eval(".fg-more", (els) => els.map((e) => ({ path: e.dataset.path, bytes: +e.dataset.bytes, n: +e.dataset.more,
    w: e.getBoundingClientRect().width })).sort((x, y) => y.w - x.w)[0]);
  if (more) {
    const ms = await timed(`.fg-more[data-path='${more.path}']`);
    check(ms < REDRAW_MS, `redraw after a "more" box took ${ms.toFixed(0)} ms`);
    const kids = await page.$$eval(".fg-node", (els, p) => els.filter((e) => e.dataset.path.startsWith(p + "\u0001") &&
      !e.dataset.path.slice(p.length + 1).includes("\u0001") || (e.classList.contains("fg-more") && e.dataset.path === p))
      .map((e) => ({ bytes: +e.dataset.bytes, n: e.dataset.more ? +e.dataset.more : 1, more: !!e.dataset.more })), more.path);
    check(kids.some((k) => !k.more) && kids.reduce((a, k) => a + k.bytes, 0) === more.bytes && kids.reduce((a, k) => a + k.n, 0) === more.n,
      `a "more" box of ${more.n} frames and ${more.bytes} bytes opened to ${kids.filter((k) => !k.more).length} frames, ` +
      `${kids.reduce((a, k) => a + k.bytes, 0)} bytes`);
    await page.click("#reset");
  }
  check((await page.$$eval(".fg-node", (e) => e.length)) === nodes0, "after the timed clicks the graph is back as it was");

  // header: the command and the peak
  const cmd = await page.textContent("#cmd");
  check(cmd === J.command.join(" "), `header command '${cmd}'`);

  // flame graph at the peak: one element per distinct stack (folded path), adding up to the peak
  const paths = new Set(folded.map((l) => l.slice(0, l.lastIndexOf(" "))));
  const ends = await page.$$eval(".fg-node[data-self]", (els) => els.map((e) => e.dataset.path.split("\u0001").join(";")));
  /* frames narrower than a pixel are in "n more" boxes, each saying how many stacks end under it */
  const hidden = await page.$$eval(".fg-more", (els) => els.reduce((a, e) => a + +e.dataset.stacks, 0));
  check(ends.length + hidden === paths.size, `flame graph has ${ends.length} stack ends and ${hidden} in "more" boxes, folded has ${paths.size} stacks`);
  check(ends.every((p) => paths.has(p)), "a flame graph stack that the folded output does not have: " +
    ends.filter((p) => !paths.has(p)).slice(0, 3).join(" | "));
  const rootBytes = async () => +(await page.getAttribute(".fg-node[data-path='']", "data-bytes"));
  const peakRoot = await rootBytes();
  check(peakRoot === J.peak.rss_bytes, `flame graph total ${peakRoot} != JSON peak ${J.peak.rss_bytes}`);
  for (const cat of Object.keys(J.peak.categories)) {
    const want = J.peak.categories[cat];
    const el = await page.$(`.fg-node[data-path='${cat}']`);
    const got = el ? +(await el.getAttribute("data-bytes")) : 0;
    check(got === want, `category ${cat}: flame graph ${got}, JSON ${want}`);
  }

  // hover: bytes and share of the frame
  const bigCat = Object.entries(J.peak.categories).sort((a, b) => b[1] - a[1])[0][0];
  await page.hover(`.fg-node[data-path='${bigCat}']`);
  const tipText = await page.textContent("#tip");
  const stackShare = (100 * J.peak.categories[bigCat] / J.peak.rss_bytes).toFixed(1) + "%";
  check(await page.isVisible("#tip") && tipText.includes(stackShare) && /\d (B|KiB|MiB|GiB|TiB)\b/.test(tipText), `hover shows '${tipText}', want share ${stackShare}`);

  // search: a frame every stack run has matches, nonsense matches nothing
  /* a plain name (the search box takes a regex: "so.2+0x1ab70" would not match itself) */
  const top = J.peak.stacks.flatMap((s) => s.frames).find((f) => /^[\w.]+$/.test(f)) || J.peak.stacks[0].frames[0];
  await page.fill("#search", top);
  const m1 = await page.$$eval(".fg-node.match", (e) => e.length);
  check(m1 > 0, `search for '${top}' highlights nothing`);
  check(/match/.test(await page.textContent("#status")), "search does not say what it matched");
  await page.fill("#search", "no-such-frame-xyzzy");
  check((await page.$$eval(".fg-node.match", (e) => e.length)) === 0, "nonsense search highlights frames");
  await page.fill("#search", "");

  // zoom: click the largest category; it fills the width and the others go away
  const before = await page.$$eval(".fg-node", (e) => e.length);
  await page.click(`.fg-node[data-path='${bigCat}']`);
  const w = await page.$eval(`.fg-node[data-path='${bigCat}']`, (e) => e.style.width);
  const others = await page.$$eval(".fg-node", (els, c) => els.filter((e) => e.dataset.path && e.dataset.path.split("\u0001")[0] !== c).length, bigCat);
  const after = await page.$$eval(".fg-node", (e) => e.length);
  check(parseFloat(w) === 100, `zoomed frame width ${w}`);
  check(others === 0 && (after < before || Object.values(J.peak.categories).filter((x) => x > 0).length === 1),
    `zoom left ${others} frames of other categories (${before} -> ${after} frames)`);
  await page.click("#reset");
  check((await page.$$eval(".fg-node", (e) => e.length)) === before, "reset zoom does not restore the graph");

  // timeline: choose an early moment; the flame graph becomes what the JSON timeline says then
  const box = await page.$eval("#timeline", (e) => { const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; });
  const tmax = Math.max(J.duration_s, J.timeline[J.timeline.length - 1].t_s);
  const early = J.timeline.find((s) => s.t_s > 0 && s.rss_bytes > 0 && s.rss_bytes < 0.8 * J.peak.rss_bytes);
  check(!!early, "no early sample in the JSON timeline to choose");
  if (early) {
    const left = +(await page.getAttribute("#timeline", "data-plot-left")); /* the plot's margin, fitted to its labels */
    const x = box[0] + left + (box[2] - left - 10) * (early.t_s + 0.0001) / tmax;
    await page.mouse.click(x, box[1] + box[3] / 2);
    const t = parseFloat(await page.getAttribute("#moment-t", "data-t"));
    const s = J.timeline.find((x) => Math.abs(x.t_s - t) < 1e-7);
    const got = await rootBytes();
    check(!!s, `moment ${t} s is not a JSON sample`);
    check(s && got === s.rss_bytes, `flame graph at ${t} s is ${got} bytes, JSON timeline says ${s && s.rss_bytes} (each page once)`);
    check(got !== peakRoot, "choosing a moment did not change the flame graph");
    for (const cat of Object.keys(s.categories)) {
      const el = await page.$(`.fg-node[data-path='${cat}']`);
      const g = el ? +(await el.getAttribute("data-bytes")) : 0;
      check(g === Math.max(0, s.categories[cat]), `at ${t} s category ${cat}: flame graph ${g}, JSON ${s.categories[cat]}`);
    }
    await page.click("#topeak");
    check((await rootBytes()) === peakRoot, "'Go to peak' does not bring the peak back");
  }

  // scope: the largest process alone adds up to its own share at the tree's peak
  const procs = J.processes.filter((p) => p.at_tree_peak.rss_bytes > 0).sort((a, b) => b.at_tree_peak.rss_bytes - a.at_tree_peak.rss_bytes);
  if (procs.length) {
    const val = await page.$$eval("#scope option", (os, pid) => (os.find((o) => o.text.startsWith(`pid ${pid} `)) || {}).value, procs[0].pid);
    check(val !== undefined, `no scope entry for pid ${procs[0].pid}`);
    if (val !== undefined) {
      await page.selectOption("#scope", val);
      await page.click("#topeak");
      const got = await rootBytes();
      check(got === procs[0].at_tree_peak.rss_bytes, `pid ${procs[0].pid} at the peak: flame graph ${got}, JSON ${procs[0].at_tree_peak.rss_bytes}`);
      await page.selectOption("#scope", "-1");
    }
  }
  // the timeline's labels: each inside the drawing, in a unit that fits, the axis above the peak
  const texts = await page.$$eval("#timeline text", (ts) => ts.map((t) => {
    const b = t.getBBox(), W = t.ownerSVGElement.viewBox.baseVal.width;
    return { s: t.textContent, y: t.classList.contains("ylabel"), x0: b.x, x1: b.x + b.width, W };
  }));
  check(texts.length > 0, "the timeline has labels");
  for (const t of texts)
    check(t.x0 >= 0 && t.x1 <= t.W + 0.5, `label '${t.s}' outside the drawing: [${t.x0.toFixed(1)}, ${t.x1.toFixed(1)}] of ${t.W}`);
  const UNIT = { B: 1, KiB: 1 << 10, MiB: 1 << 20, GiB: 2 ** 30, TiB: 2 ** 40 };
  const ys = texts.filter((t) => t.y).map((t) => t.s.match(/^(\d+(?:\.\d+)?) (B|KiB|MiB|GiB|TiB)$/));
  check(ys.length >= 2 && ys.every((m) => m), `byte axis labels: ${texts.filter((t) => t.y).map((t) => t.s).join(", ")}`);
  if (ys.every((m) => m)) {
    const vals = ys.map((m) => parseFloat(m[1]) * UNIT[m[2]]), top = Math.max(...vals);
    /* the axis holds the kernel's line too, which may be above the RSS (10k threads' stacks) */
    const peak = Math.max(...J.timeline.map((s) => s.rss_bytes), ...(J.kernel ? J.kernel.samples.map((s) => s.total_bytes) : []));
    check(top >= peak && top <= 2.5 * peak + 4096, `byte axis up to ${top}, timeline peak ${peak} (the kernel's line included)`);
    check(new Set(ys.map((m) => m[2])).size === 1 && (ys[ys.length - 1][1] >= 1 || top < 1024),
      `one unit that fits along the axis: ${ys.map((m) => m[0]).join(", ")}`);
  }
  check(errors.length === 0, "console errors after interaction: " + errors.join(" | "));
  if (shot) {
    await page.click("#topeak");
    await page.screenshot({ path: shot, fullPage: false });
  }
  if (pprofPath) {
    await speedscope(foldedPath, "folded", "Importing as collapsed stack format");
    await speedscope(pprofPath, "pprof", "Importing as protobuf encoded pprof file");
  }
} finally {
  await browser.close();
}
/* speedscope's own page opens FILE the way its command line does (a script next to the file hands
 * it over as base64: no server, no network). Its sandwich view lists every frame name with its
 * total (the bytes of the stacks it is in, once per stack) and that total's share of the profile's. */
async function speedscope(file, what, importer) {
  /* what each name's total must be, from the folded stacks; pprof names a label "category/label"
   * and has no frame for "[no user stack]" (the label is the stack's last frame there) */
  const want = new Map();
  for (const l of folded) {
    let fr = l.slice(0, l.lastIndexOf(" ")).split(";");
    const b = +l.slice(l.lastIndexOf(" ") + 1);
    if (what === "pprof" && fr.length > 1) fr[1] = fr[0] + "/" + fr[1];
    if (what === "pprof") fr = fr.filter((n) => n !== "[no user stack]");
    for (const n of new Set(fr)) want.set(n, (want.get(n) || 0) + b);
  }
  const js = path.join(path.dirname(fs.realpathSync(file)), `speedscope-${process.pid}-${what}.js`);
  fs.writeFileSync(js, `speedscope.loadFileFromBase64(${JSON.stringify(path.basename(file))}, ` +
    `${JSON.stringify(fs.readFileSync(file).toString("base64"))})`);
  /* the table draws only the rows in view: a window tall enough for all of them */
  const page = await browser.newPage({ viewport: { width: 1400, height: Math.min(60000, 400 + 45 * want.size) } });
  const logs = [], errors = [], requests = [];
  page.on("console", (m) => { logs.push(m.text()); if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (r) => { if (!r.url().startsWith("file:") && !r.url().startsWith("data:")) requests.push(r.url()); });
  try {
    const index = fs.realpathSync(new URL("node_modules/speedscope/dist/release/index.html", import.meta.url));
    await page.goto(`file://${index}#localProfilePath=${js}&view=sandwich`);
    await page.waitForFunction(() => document.querySelectorAll("tr td").length > 0, null, { timeout: 30000 })
      .catch(() => {});
    const rows = await page.$$eval("tr", (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent))
      .filter((r) => r.length === 3));
    check(logs.includes(importer), `speedscope ${what}: not imported as it should ('${importer}' not in ${JSON.stringify(logs.slice(0, 6))})`);
    check(errors.length === 0 && requests.length === 0, `speedscope ${what}: errors ${errors.join(" | ")} requests ${requests.join(" ")}`);
    const shown = new Set(rows.map((r) => r[2]));
    const missing = [...want.keys()].filter((n) => !shown.has(n)), extra = [...shown].filter((n) => !want.has(n));
    check(rows.length > 0 && missing.length === 0 && extra.length === 0,
      `speedscope ${what}: ${rows.length} frames; ours missing: ${missing.slice(0, 3).join(" | ")}; not ours: ${extra.slice(0, 3).join(" | ")}`);
    /* folded weights show as plain numbers; pprof's as bytes in 1024-based units with 2 decimals;
     * the share has 2 significant digits, so it pins the profile's total to the peak */
    const U = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
    let bad = [];
    for (const [tot, , name] of rows) {
      const m = tot.match(/^([\d,.]+)\s*([KMGT]?B)?\s*\((<?)([\d.]+)%\)$/), w = want.get(name);
      if (!m || w === undefined) { bad.push(`${name}: '${tot}'`); continue; }
      const v = parseFloat(m[1].replace(/,/g, "")) * (m[2] ? U[m[2]] : 1), ulp = m[2] ? 0.006 * U[m[2]] : 0;
      const share = 100 * w / J.peak.rss_bytes, p = parseFloat(m[4]);
      const pslack = m[3] ? 0 : p >= 10 ? 0.51 : p >= 1 ? 0.051 : 0.0051;
      if (Math.abs(v - w) > ulp || (m[3] ? share >= p : Math.abs(p - share) > pslack)) bad.push(`${name}: '${tot}', want ${w} (${share.toFixed(3)}%)`);
    }
    check(bad.length === 0, `speedscope ${what}: ${bad.length} frame totals differ from the folded stacks and the JSON peak: ${bad.slice(0, 3).join(" | ")}`);
    let sum = 0;
    for (const l of folded) sum += +l.slice(l.lastIndexOf(" ") + 1);
    check(sum === J.peak.rss_bytes, `folded stacks add up to ${sum}, JSON peak ${J.peak.rss_bytes}`);
  } finally {
    await page.close();
    fs.unlinkSync(js);
  }
}
console.log(`html: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
