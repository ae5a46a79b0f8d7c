/* ---- a differential page: `taskmem-trace scale --html` and `taskmem-trace diff --html` ----
 * Written into report.html's script (at its TASKMEM_DIFF mark) for these pages only; it reuses
 * the run report's flame graph, zoom, search and tooltip. D.rows are the stacks (no process),
 * D.diff.views their values: a view is one number per stack (bytes per task, B - A, a run's
 * peak). A signed view draws each frame as wide as the bytes that changed under it, growth and
 * shrinkage both counted (so nothing cancels out of sight), red where the net change is growth,
 * blue where it is shrinkage, paler the more of its change cancels out; its net change is
 * data-value, its width data-bytes. Other views are drawn as the run report draws a peak. */
const DD = D.diff;
let view = DD ? DD.views[0] : null;
const rowOf = new Map(); /* a stack's last frame -> its row */

/* Each node's bytes (its width: the change under it, either way) and value (the net change). */
function diffTree(v) {
  for (const n of allNodes) { n.bytes = n.self = n.value = n.selfValue = 0; n.sorted = n.stacks = undefined; }
  D.rows.forEach((r, i) => {
    const x = v[i];
    if (!x) return;
    const p = rowPath[i];
    for (const n of p) { n.bytes += Math.abs(x); n.value += x; }
    p[p.length - 1].self += Math.abs(x);
    p[p.length - 1].selfValue += x;
    skel.bytes += Math.abs(x);
    skel.value += x;
  });
  return skel;
}

function signedSize(b) { return (view.signed && b > 0 ? "+" : "") + size(b); }
function withUnit(b) { return signedSize(b) + (view.unit ? " " + view.unit : ""); }

function diffColor(n) {
  if (!view.signed) return null;
  const r = n.bytes > 0 ? n.value / n.bytes : 0, a = Math.abs(r);
  const c = a < 1e-9 ? "hsl(0,0%,86%)" : `hsl(${r > 0 ? 0 : 215},${(40 + 45 * a).toFixed(0)}%,${(88 - 30 * a).toFixed(1)}%)`;
  const i = rowOf.get(n);
  /* a stack that does not grow in a straight line (scale): hatched */
  return i !== undefined && DD.nonlinear && DD.nonlinear[i] && n.selfValue ?
    `repeating-linear-gradient(135deg,${c} 0 5px,#fff 5px 7px)` : c;
}

function diffAttrs(n) {
  const i = rowOf.get(n);
  return ` data-value="${n.value}"` + (n.selfValue ? ` data-self-value="${n.selfValue}"` : "") +
    (i !== undefined && n.selfValue && DD.nonlinear && DD.nonlinear[i] ? ` data-nonlinear="1"` : "");
}

function diffTip(el, path, name) {
  const b = +el.dataset.bytes, v = el.dataset.value !== undefined ? +el.dataset.value : b;
  let t = `<b>${esc(name)}</b><br>`;
  if (el.dataset.more) return t + `${size(b)} ${view.signed ? "changed" : ""}`;
  if (view.signed) {
    t += `${esc(withUnit(v))} net` + (b !== Math.abs(v) ? `: ${esc(size((b + v) / 2))} grew, ${esc(size((b - v) / 2))} shrank` : "") +
      `<br>${pct(b, root.bytes)} of all the change (${esc(view.name)})`;
  } else {
    t += `${esc(withUnit(v))} (${Math.round(v).toLocaleString()} bytes)<br>${pct(v, root.value)} of all (${esc(view.name)})`;
  }
  const n = nodeAt(path), i = n ? rowOf.get(n) : undefined;
  if (n && n.selfValue && i !== undefined && DD.stack) {
    const s = DD.stack[i];
    if (s.fit_error !== undefined)
      t += `<br>fit error ${s.fit_error === null ? "- (two counts)" : esc(size(s.fit_error)) + " per task"}` +
        `, largest residual ${esc(size(s.residual))} (${(100 * s.relative).toFixed(1)}%)` +
        (DD.nonlinear[i] ? `<br><b>does not grow linearly</b>` : "");
    if (s.bytes) t += `<br>bytes at each N: ${s.bytes.map((x, k) => `${DD.runs[k].n}: ${esc(size(x))}`).join(", ")}`;
  }
  if (path.length) t += `<br>category: ${esc(path[0])}`;
  return t;
}

function nodeAt(path) {
  let n = skel;
  for (const name of path) { n = n.kids.get(name); if (!n) return null; }
  return n;
}

function cell(v, fmt) {
  if (v === null || v === undefined) return `<td data-v="">-</td>`;
  const t = fmt === "err" ? size(v) : fmt === "signed" ? (v > 0 ? "+" : "") + size(v) : size(v);
  return `<td data-v="${v}" title="${Math.round(v).toLocaleString()} bytes">${esc(t)}</td>`;
}

function diffMain() {
  rowPath.forEach((p, i) => rowOf.set(p[p.length - 1], i));
  document.title = `taskmem-trace ${DD.kind}`;
  /* the header: what was compared, and its facts */
  const h1 = document.querySelector("header h1"), f = [];
  if (DD.kind === "diff") {
    h1.innerHTML = `taskmem-trace diff: <code>${esc(DD.a.command.join(" "))}</code> &rarr; <code id="cmd">${esc(DD.b.command.join(" "))}</code>`;
    f.push(["A", `${DD.a.path}: peak ${size(DD.a.rss_bytes)}`]);
    f.push(["B", `${DD.b.path}: peak ${size(DD.b.rss_bytes)}`]);
    f.push(["B - A", `${signedSize(DD.b.rss_bytes - DD.a.rss_bytes)} (${pct(DD.b.rss_bytes - DD.a.rss_bytes, DD.a.rss_bytes)})`]);
    for (const [k, r] of [["A", DD.a], ["B", DD.b]]) if (r.dropped) f.push([k + " dropped", r.dropped.toLocaleString() + " events: its stacks may be off", true]);
  } else {
    h1.innerHTML = `taskmem-trace scale: <code id="cmd">${esc(D.command.join(" "))}</code>`;
    f.push(["runs", DD.runs.map((r) => `N=${r.n}: ${size(r.rss_bytes)}`).join(", ")]);
    f.push(["per task", size(DD.total.bytes_per_task) + (DD.total.fit_error === null ? "" : " \u00b1 " + size(DD.total.fit_error))]);
    f.push(["fixed", size(DD.total.fixed_bytes)]);
    f.push(["fit error", DD.total.fit_error === null ? "none: two task counts (a line through both)" : size(DD.total.fit_error) + " per task"]);
    const dropped = DD.runs.reduce((a, r) => a + r.dropped, 0);
    f.push(["dropped", dropped.toLocaleString() + (dropped ? ": the fit may be off" : ""), dropped > 0]);
  }
  $("facts").innerHTML = f.map(([k, v, bad]) =>
    `<span>${esc(k)}: <b class="${bad ? "bad" : ""}" data-fact="${esc(k)}">${esc(v)}</b></span>`).join("");

  /* the run report's timeline and scope have no meaning here: a choice of view instead */
  for (const el of [$("legend").previousElementSibling, $("legend"), $("timeline"), $("timeline").nextElementSibling,
    $("scope").parentNode, $("moment"), $("topeak")]) el.style.display = "none";
  const vs = document.createElement("select");
  vs.id = "view";
  DD.views.forEach((v, i) => vs.add(new Option(v.name, String(i))));
  const vl = document.createElement("label");
  vl.append("View ", vs);
  $("scope").parentNode.parentNode.prepend(vl);

  /* the table per category, and (scale) the stacks that do not grow linearly */
  const T = DD.table, sec = document.createElement("div");
  let h = `<h2>${DD.kind === "diff" ? "Peak resident memory by category, A and B" : "Bytes = fixed + per task \u00d7 N, by category (least squares over " + DD.runs.length + " runs)"}</h2>` +
    `<table id="cattable"><tr><th></th>${T.cols.map((c) => `<th>${esc(c.name)}</th>`).join("")}</tr>`;
  for (const r of T.rows)
    h += `<tr data-row="${esc(r.name)}"${r.nonlinear ? ` class="nonlinear"` : ""}><th>${esc(r.name)}${r.nonlinear ? " (not linear)" : ""}</th>` +
      r.v.map((v, k) => cell(v, T.cols[k].fmt)).join("") + "</tr>";
  h += "</table>";
  if (DD.nonlinear) {
    const nl = DD.nonlinear.map((x, i) => x ? i : -1).filter((i) => i >= 0);
    h += `<h2>Stacks that do not grow linearly</h2>` + (nl.length ? `<ul id="nonlinear">${nl.map((i) => {
      const r = D.rows[i], s = DD.stack[i];
      return `<li data-row="${i}">${esc(D.names[r[2]])}: residual ${esc(size(s.residual))} (${(100 * s.relative).toFixed(0)}%), ` +
        `bytes by N ${esc(s.bytes.map((x) => size(x)).join(", "))}; ${esc(r[3].map((k) => D.names[k]).reverse().slice(0, 6).join(" \u2190 "))}</li>`;
    }).join("")}</ul>` : `<p class="note" id="nonlinear">${DD.total.fit_error === null ?
      "Two task counts: no test of linearity (give three or more)." : "None: every stack grows in a straight line."}</p>`);
  }
  sec.innerHTML = h;
  const fgTitle = $("search").closest(".bar").previousElementSibling;
  fgTitle.before(sec);
  const legend = document.createElement("div");
  legend.className = "note";
  legend.id = "difflegend";
  fgTitle.after(legend);
  const style = document.createElement("style");
  style.textContent = "#cattable { border-collapse: collapse; background: #fff; } #cattable td, #cattable th { border: 1px solid #ddd; padding: 2px 8px; text-align: right; }" +
    " #cattable th:first-child { text-align: left; } #cattable tr.nonlinear th { color: #b3261e; } #nonlinear { margin: 4px 0; padding-left: 20px; word-break: break-all; }";
  document.head.append(style);

  function show() {
    fgTitle.textContent = view.signed ? `${view.name}, by category and call stack (root at top): width is the bytes that changed, either way` :
      `${view.name}, by category and call stack (root at top)`;
    legend.innerHTML = view.signed ? `<span style="color:#c62828">&#9632;</span> red: grew, <span style="color:#1f5fbf">&#9632;</span> blue: shrank; ` +
      `paler where growth and shrinkage under a frame cancel out${DD.nonlinear ? "; hatched: a stack that does not grow linearly" : ""}. ` +
      `Net change: ${esc(withUnit(skel.value))}` : `Total: ${esc(withUnit(skel.value))}`;
    renderFlame();
  }
  vs.onchange = () => { view = DD.views[+vs.value]; zoomSkip = 0; root = diffTree(view.v); show(); };
  root = diffTree(view.v);
  show();
}
