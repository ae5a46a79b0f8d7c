// Opens a page of taskmem-trace (a run's report, or scale's and diff's) in Debian's headless
// Chromium, as every checker of tests/html does: console errors and requests to anything but
// the file itself are collected, to be checked as none.
import { chromium } from "playwright-core";
import fs from "node:fs";

export async function openReport(html) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [], requests = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (r) => { if (!r.url().startsWith("file:") && !r.url().startsWith("data:")) requests.push(r.url()); });
  await page.goto("file://" + fs.realpathSync(html));
  await page.waitForSelector(".fg-node");
  return { browser, page, errors, requests };
}
