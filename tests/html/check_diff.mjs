// Loads the HTML page of `taskmem-trace scale` or `taskmem-trace diff` in Debian's headless Chromium
// and checks its differential flame graph and table against the JSON the same command wrote (by
// other code: the page sums the stacks itself in the browser).
// usage: node check_diff.mjs PAGE.html SCALE-OR-DIFF.json [--name NAME] [--shot SCREENSHOT.png]
//   --name: a frame name the traced program chose (hostile: markup, quotes): shown as text, run as nothing
// Prints one line per failed check and "html: N passed, N failed"; exit 1 on any failure.
import { openReport } from "./page.mjs";
import fs from "node:fs";

const args = process.argv.slice(2);
function opt(name) { const i = args.indexOf(name); return i >= 0 ? args.splice(i, 2)[1] : null; }
const hostile = opt("--name"), shot = opt("--shot");
const [html, jsonPath] = args;
const J = JSON.parse(fs.readFileSync(jsonPath, "utf8"));
let passed = 0, failed = 0;
function check(cond, what) {
  if (cond) passed++;
  else { failed++; console.log("FAIL html: " + what); }
  return cond;
}

/* the stacks and, per view of the page, each stack's value and the total the JSON gives */
const scale = J.schema === "taskmem-trace-scale/1";
check(scale || J.schema === "taskmem-trace-diff/1", `a scale or diff JSON (${J.schema})`);
const stacks = (scale ? J.per_task : J.diff).map((s) => {
  const frames = scale ? s.stack : s.frames;
  const tail = frames.length ? [...frames].reverse() : s.label === "other/[unattributed]" ? [] : ["[no user stack]"];
  return { path: [s.category, s.label, ...tail].join("\u0001"), cat: s.category, nonlinear: s.nonlinear === true,
    v: scale ? [s.bytes_per_task, s.fixed_bytes, ...s.bytes] : [s.diff_bytes, s.a_bytes, s.b_bytes] };
});
const cats = Object.fromEntries((J.categories).map((c) => [c.category, c]));
/* per view: the total and each category's, and how far the sum of the stacks' rounded values may be from it */
const views = scale ?
  [["per task", J.total.bytes_per_task, (c) => cats[c].bytes_per_task, 0.05],
    ["fixed", J.total.fixed_bytes, (c) => cats[c].fixed_bytes, 0.5],
    ...J.runs.map((r, k) => [`N=${r.n}`, r.rss_bytes, (c) => r.categories[c], 0])] :
  [["B - A", J.total.diff_bytes, (c) => cats[c].diff_bytes, 0], ["A", J.total.a_bytes, (c) => cats[c].a_bytes, 0],
    ["B", J.total.b_bytes, (c) => cats[c].b_bytes, 0]];
const near = (got, want, tol) => Math.abs(got - want) <= tol + 1e-9 * Math.abs(want);

const { browser, page, errors, requests } = await openReport(html);
try {
  check(errors.length === 0, "console errors: " + errors.join(" | "));
  check(requests.length === 0, "network requests: " + requests.join(" "));
  const cmd = scale ? J.command.join(" ") : J.b.command.join(" ");
  check((await page.textContent("#cmd")) === cmd, `header command '${await page.textContent("#cmd")}', want '${cmd}'`);

  const nview = await page.$$eval("#view option", (o) => o.length);
  check(nview === views.length, `${nview} views, want ${views.length}`);
  for (let vi = 0; vi < Math.min(nview, views.length); vi++) {
    const [vname, total, catOf, tol] = views[vi], signed = scale ? vi < 2 : vi === 0;
    await page.selectOption("#view", String(vi));
    const g = await page.$eval("#fg", (fg) => {
      const els = [...fg.querySelectorAll(".fg-node")], W = fg.clientWidth;
      return els.map((e) => ({ path: e.dataset.path, bytes: +e.dataset.bytes, value: e.dataset.value === undefined ? null : +e.dataset.value,
        self: e.dataset.selfValue === undefined ? null : +e.dataset.selfValue, more: !!e.dataset.more, stacks: +(e.dataset.stacks || 0),
        dim: e.classList.contains("dim"), nonlinear: !!e.dataset.nonlinear, pct: parseFloat(e.style.width), px: e.getBoundingClientRect().width,
        W: W, bg: getComputedStyle(e).backgroundColor, bgi: getComputedStyle(e).backgroundImage }));
    });
    const byPath = new Map(g.filter((n) => !n.more).map((n) => [n.path, n]));
    const rootN = byPath.get("");
    const want = stacks.filter((s) => s.v[vi] !== 0);
    const gross = want.reduce((a, s) => a + Math.abs(s.v[vi]), 0), net = want.reduce((a, s) => a + s.v[vi], 0);
    if (!check(!!rootN, `${vname}: the root is drawn`)) continue;
    /* the root: as wide as all the change, its net the total's (the stacks add up to it) */
    check(near(rootN.bytes, gross, 0.01), `${vname}: root width measure ${rootN.bytes}, want the stacks' |values| ${gross}`);
    check(near(rootN.value, net, 0.01) && near(net, total, tol * want.length + 0.05),
      `${vname}: root value ${rootN.value}, stacks' sum ${net}, JSON total ${total}`);
    for (const c of Object.keys(cats)) {
      const n = byPath.get(c), w = catOf(c);
      check(n ? near(n.value, w, tol * want.length + 0.05) : near(w, 0, tol * want.length + 0.05),
        `${vname}: category ${c} ${n ? n.value : "(not drawn)"}, JSON ${w}`);
    }
    /* every stack: drawn where its path says, with its own value, or counted in a "more" box */
    const ends = g.filter((n) => n.self !== null);
    const hidden = g.filter((n) => n.more).reduce((a, n) => a + n.stacks, 0);
    check(ends.length + hidden === want.length, `${vname}: ${ends.length} stack ends drawn and ${hidden} in "more" boxes, JSON has ${want.length} non-zero stacks`);
    const wantBy = new Map(want.map((s) => [s.path, s]));
    let bad = ends.filter((n) => !wantBy.has(n.path) || n.self !== wantBy.get(n.path).v[vi]);
    check(bad.length === 0, `${vname}: ${bad.length} stack ends whose value is not the JSON's: ` +
      bad.slice(0, 3).map((n) => `${n.path.split("\u0001").join(";")} ${n.self} vs ${wantBy.has(n.path) ? wantBy.get(n.path).v[vi] : "none"}`).join(" | "));
    /* widths: each frame's share of the width is its share of all the change, within a pixel (a
     * box is never narrower than its padding and border: 4 px) */
    bad = g.filter((n) => !n.dim && !(Math.abs(n.pct - 100 * n.bytes / rootN.bytes) < 2e-4 &&
      Math.abs(n.px - Math.max(4, n.W * n.bytes / rootN.bytes)) <= 1));
    check(bad.length === 0, `${vname}: ${bad.length} frames not as wide as their bytes: ` +
      bad.slice(0, 3).map((n) => `${n.path} ${n.px.toFixed(1)}px for ${n.bytes} of ${rootN.bytes} in ${n.W}px`).join(" | "));
    /* a leaf that grew is red, one that shrank blue (its colour or its hatching's first) */
    const rgb = (n) => (n.bgi !== "none" ? n.bgi : n.bg).match(/rgba?\((\d+), (\d+), (\d+)/).slice(1).map(Number);
    if (signed) {
      bad = ends.filter((n) => n.bytes === Math.abs(n.self)).filter((n) => { const [r, , b] = rgb(n); return n.self > 0 ? r <= b + 20 : r + 20 >= b; });
      check(bad.length === 0, `${vname}: ${bad.length} stacks not red for growth / blue for shrinkage: ${bad.slice(0, 3).map((n) => `${n.self} ${n.bg} ${n.bgi}`).join(" | ")}`);
      check(ends.some((n) => n.self > 0), `${vname}: some stack grew`);
    }
    if (scale && vi === 0) { /* stacks that do not grow linearly: hatched, and listed */
      const nl = ends.filter((n) => n.nonlinear).map((n) => n.path).sort();
      const wantNl = ends.filter((n) => wantBy.get(n.path) && wantBy.get(n.path).nonlinear).map((n) => n.path).sort();
      check(JSON.stringify(nl) === JSON.stringify(wantNl), `hatched as not linear: ${nl.length} stacks, JSON: ${wantNl.length}`);
      check(ends.filter((n) => n.nonlinear).every((n) => n.bgi.includes("repeating-linear-gradient")), "not-linear stacks are hatched");
      check(ends.filter((n) => !n.nonlinear).every((n) => n.bgi === "none"), "linear stacks are not hatched");
      const items = await page.$$eval("#nonlinear li", (l) => l.length);
      check(items === stacks.filter((s) => s.nonlinear).length, `${items} stacks listed as not linear, JSON ${stacks.filter((s) => s.nonlinear).length}`);
    }
  }
  await page.selectOption("#view", "0");

  /* the table: the total and each category, as the JSON has them; the fit's error shown */
  const table = await page.$$eval("#cattable tr[data-row]", (trs) => Object.fromEntries(trs.map((tr) =>
    [tr.dataset.row, [...tr.querySelectorAll("td")].map((td) => td.dataset.v === "" ? null : +td.dataset.v)])));
  const rowsWant = { total: J.total, ...cats };
  for (const [name, x] of Object.entries(rowsWant)) {
    const w = scale ? [x.bytes_per_task, x.fit_error, x.fixed_bytes, ...J.runs.map((r) => name === "total" ? r.rss_bytes : r.categories[name])] :
      [x.a_bytes, x.b_bytes, x.diff_bytes];
    check(JSON.stringify(table[name]) === JSON.stringify(w), `table row ${name}: ${JSON.stringify(table[name])}, JSON ${JSON.stringify(w)}`);
  }
  if (scale) {
    const fe = await page.textContent("[data-fact='fit error']");
    check(J.total.fit_error === null ? /two task counts/.test(fe) : /\d (B|KiB|MiB) per task/.test(fe), `the fit error shown: '${fe}'`);
  }
  /* hover: the widest stack that grew shows its signed change; zoom: its category fills the width */
  const top = await page.$$eval(".fg-node[data-self-value]", (els) => els.filter((e) => +e.dataset.selfValue > 0)
    .sort((a, b) => b.dataset.bytes - a.dataset.bytes).map((e) => e.dataset.path)[0]);
  if (check(!!top, "a stack that grew is drawn")) {
    await page.hover(`.fg-node[data-path="${top.replace(/["\\]/g, "\\$&")}"]`);
    const tip = await page.textContent("#tip");
    check(/\+[\d.]+ (B|KiB|MiB|GiB)/.test(tip) && tip.includes("net"), `hover on the widest growth shows its change: '${tip}'`);
    const cat = top.split("\u0001")[0];
    await page.click(`.fg-node[data-path="${cat}"]`);
    const zw = await page.$eval(`.fg-node[data-path="${cat}"]`, (e) => e.style.width);
    check(parseFloat(zw) === 100, `zoom into ${cat}: width ${zw}`);
    await page.click("#reset");
  }
  if (hostile !== null) { /* the traced program's name: a frame's text, never markup */
    const found = await page.$$eval(".fg-node", (els, h) => els.filter((e) => e.dataset.path.split("\u0001").includes(h))
      .map((e) => ({ path: e.dataset.path, text: e.textContent })), hostile);
    check(found.length > 0, `a frame named ${JSON.stringify(hostile)} is drawn`);
    if (found.length) {
      const sel = `.fg-node[data-path="${found[0].path.replace(/["\\]/g, "\\$&")}"]`;
      check(hostile.startsWith(found[0].text) && found[0].text.length > 0, `its box shows its name as text: ${JSON.stringify(found[0].text)}`);
      await page.selectOption("#view", "0");
      await page.hover(sel);
      check((await page.textContent("#tip")).includes(hostile), "its tooltip shows its name as text");
      await page.click(sel);
    }
    await page.fill("#search", hostile.slice(0, 12));
    check(await page.evaluate(() => window.__pwned === undefined && document.querySelectorAll("img, iframe, object").length === 0),
      "nothing of the name ran or became an element");
  }
  check(errors.length === 0, "console errors after interaction: " + errors.join(" | "));
  if (shot) {
    await page.fill("#search", "");
    await page.click("#reset");
    await page.mouse.move(0, 0);
    await page.screenshot({ path: shot, fullPage: true });
  }
} finally {
  await browser.close();
}
console.log(`html: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
