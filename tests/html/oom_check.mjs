// The HTML report of an OOM-killed run (test_oom.py): the OOM kill and the cgroup's limit on the
// timeline, and the flame graph's "Show" choices: at the kill, and what grew before it, whose
// total must be the JSON's growth_before_end.bytes.
// usage: node oom_check.mjs REPORT.html REPORT.json
// Prints one line per failed check and "oom html: N passed, N failed"; exit 1 on any failure.
import { openReport } from "./page.mjs";
import fs from "node:fs";

const [html, jsonPath] = process.argv.slice(2);
const J = JSON.parse(fs.readFileSync(jsonPath, "utf8"));
let passed = 0, failed = 0;
function check(cond, what) {
  if (cond) passed++;
  else { failed++; console.log("FAIL oom html: " + what); }
}
const { browser, page, errors } = await openReport(html);
try {
  check(await page.$("#oomline"), "no OOM kill line on the timeline");
  check(await page.$("#cglimit"), "no cgroup limit line on the timeline");
  check(await page.$("#cgusage"), "no cgroup usage line on the timeline");
  const facts = await page.textContent("#facts");
  check(facts.includes("killed by the OOM killer") && facts.includes(`pid ${J.oom.victim_pid}`), "facts: " + facts);
  const total = async () => +(await page.getAttribute(".fg-node[data-path='']", "data-bytes"));
  await page.selectOption("#show", "grew");
  const grew = await total();
  check(grew === J.growth_before_end.bytes, `growth flame graph ${grew} bytes, JSON ${J.growth_before_end.bytes}`);
  check(await page.isVisible("text=leak_one"), "leak_one not in the growth flame graph");
  await page.selectOption("#show", "end");
  const end = await total();
  check(end > grew, `at the kill ${end} bytes, more than what grew (${grew})`);
  await page.selectOption("#show", "moment");
  check(errors.length === 0, "page errors: " + errors.join(" | "));
} finally {
  await browser.close();
}
console.log(`oom html: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
