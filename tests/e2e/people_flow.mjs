// The web app as people meet it (issue 22), in a real browser (Debian's chromium, headless, playwright-core):
// the front door and a 404 page; a creator's navigation on one row at 1280 px; the upload form shows its limits,
// hides the price unless the terms are "license", refuses a too-large file and a licence without a price before
// sending anything, says "already registered" for a duplicate and shows a refusal in the progress bar; dates in the
// reader's time zone; stacked table rows keep their field names at 375 px; a licensee's scan shows one finding per
// work with its timelines. Screenshots at 1280 and 375 px of each step go to ARTIFACTS/people/.
//
// usage: node people_flow.mjs BASE_URL ARTIFACTS_DIR   (ARTIFACTS_DIR/people.json names the media)
// prints one line per step and "PEOPLE OK <steps> steps" at the end; exit code 0 or 1.

import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [, , BASE, ARTIFACTS] = process.argv;
const scenario = JSON.parse(readFileSync(join(ARTIFACTS, "people.json"), "utf8"));
const SHOTS = join(ARTIFACTS, "people");
mkdirSync(SHOTS, { recursive: true });
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 740 };
const PASSWORD = "a long enough password";
let steps = 0;

function fail(message) {
  throw new Error(message);
}

async function shoot(page, name) {
  steps++;
  for (const [size, tag] of [[DESKTOP, "1280"], [PHONE, "375"]]) {
    await page.setViewportSize(size);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    if (size === PHONE && wide > PHONE.width + 1) fail(`${name}: wider than the phone (${wide} px)`);
    await page.screenshot({ path: join(SHOTS, `${String(steps).padStart(2, "0")}-${name}-${tag}.png`), fullPage: true });
  }
  await page.setViewportSize(DESKTOP);
  console.log(`STEP ${steps} ${name} ok`);
}

async function signUp(page, { email, role, creator }) {
  await page.goto(`${BASE}/app/signup`);
  await page.getByLabel(role === "creator" ? "a creator (I register my works)" : "an AI developer, dataset curator or auditor").check();
  if (creator) await page.getByLabel("Creator name (as your works are credited)").fill(creator);
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password (at least 10 characters)").fill(PASSWORD);
  await page.getByLabel("Password again").fill(PASSWORD);
  await page.getByRole("button", { name: "Create the account" }).click();
  await page.waitForURL(`${BASE}/app`);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: scenario.chromium || "/usr/bin/chromium", headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
  const errors = [];
  let page = null;
  try {
    const context = await browser.newContext({ viewport: DESKTOP, timezoneId: "America/Los_Angeles" });
    page = await context.newPage();
    page.setDefaultTimeout(60_000);
    page.on("pageerror", (e) => errors.push(String(e)));
    const uploads = [];
    page.on("request", (r) => { if (r.method() === "POST" && r.url().includes("/api/v1/works")) uploads.push(r.url()); });

    // the front door and a page that does not exist
    await page.goto(`${BASE}/`);
    await page.getByRole("link", { name: "Sign in" }).first().waitFor();
    await shoot(page, "front-door");
    const missing = await page.goto(`${BASE}/no-such-page`);
    if (missing.status() !== 404) fail(`an unknown page answers ${missing.status()}`);
    await page.getByRole("heading", { name: "Page not found" }).waitFor();
    await page.getByRole("navigation", { name: "Main" }).waitFor();
    await shoot(page, "not-found");

    // a creator: the navigation and the account fit one row at 1280 px
    await signUp(page, { email: "mara.people@example.org", role: "creator", creator: "Mara Quinn" });
    const rows = await page.evaluate(() => {
      const tops = [...document.querySelectorAll("header.site nav li, header.site .signout button")]
        .map((e) => Math.round(e.getBoundingClientRect().top + e.getBoundingClientRect().height / 2));
      return Math.max(...tops) - Math.min(...tops);
    });
    if (rows > 12) fail(`the creator's header takes more than one row at 1280 px (${rows} px apart)`);

    await page.goto(`${BASE}/app/works`);
    const hint = await page.locator("#files-hint").textContent();
    if (!/up to 2 MB per file/.test(hint)) fail(`the upload form does not say its limit: ${hint}`);
    // price and currency only for a licence
    if (await page.getByLabel("Price").isVisible()) fail("the price shows while the terms are deny");
    await page.getByLabel("Terms").selectOption("license");
    if (!(await page.getByLabel("Price").isVisible())) fail("the price is hidden for a licence");
    // a licence without a price, and a file over the limit: refused before anything is sent
    await page.getByLabel(/Files \(one work each\)/).setInputFiles([scenario.works[0]]);
    await page.getByRole("button", { name: "Upload and register" }).click();
    await page.locator(".file-progress li.error", { hasText: "a licence needs a price" }).waitFor();
    await page.getByLabel("Terms").selectOption("deny");
    await page.getByLabel(/Files \(one work each\)/).setInputFiles([scenario.big]);
    await page.getByRole("button", { name: "Upload and register" }).click();
    await page.locator(".file-progress li.error", { hasText: "larger than the 2 MB" }).waitFor();
    if (uploads.length) fail(`refused uploads were sent anyway (${uploads.length})`);
    await shoot(page, "refused-before-sending");

    // two works, then one of them again: "already registered"; a file the server refuses: the bar says so
    await page.getByLabel(/Files \(one work each\)/).setInputFiles(scenario.works);
    await page.getByRole("button", { name: "Upload and register" }).click();
    await page.locator(".file-progress li.ok").nth(1).waitFor({ timeout: 120_000 });
    await page.reload();
    await page.getByLabel(/Files \(one work each\)/).setInputFiles([scenario.works[0], scenario.not_audio]);
    await page.getByRole("button", { name: "Upload and register" }).click();
    await page.locator(".file-progress li.ok", { hasText: "already registered" }).waitFor({ timeout: 120_000 });
    const refused = page.locator(".file-progress li.error", { hasText: "refused:" });
    await refused.waitFor();
    const bar = await refused.locator("progress").evaluate((p) => ({ value: p.value, max: p.max, label: p.getAttribute("aria-label") }));
    if (bar.value !== bar.max || !/refused/.test(bar.label || "")) fail(`the refused file's bar: ${JSON.stringify(bar)}`);
    await shoot(page, "duplicate-and-refusal");

    // dates in the reader's time zone (the context runs in Los Angeles), not UTC stamps
    await page.reload();
    const when = await page.locator("table.works time").first().textContent();
    if (/UTC|T\d\d:/.test(when)) fail(`a date is shown as a stamp: ${when}`);
    // phones: stacked rows keep their field names
    await page.setViewportSize(PHONE);
    const label = await page.locator("table.works tbody td").nth(1).evaluate((td) => getComputedStyle(td, "::before").content);
    if (!/AI training/.test(label)) fail(`a stacked row's cell has no field name: ${label}`);
    await page.setViewportSize(DESKTOP);
    await shoot(page, "works");
    await page.getByRole("button", { name: "Sign out" }).click();

    // a licensee scans a dataset: one finding per work, with the timelines
    await signUp(page, { email: "lab.people@example.org", role: "licensee" });
    await page.goto(`${BASE}/app/works`);
    if (await page.locator('form[action="/app/works"]').count()) fail("a licensee is offered the upload form");
    await page.goto(`${BASE}/app/scans`);
    await page.getByLabel("Dataset file").setInputFiles(scenario.dataset);
    await page.getByRole("button", { name: "Upload and scan" }).click();
    await page.getByRole("link", { name: "see the scan's findings" }).click({ timeout: 120_000 });
    await page.getByRole("heading", { name: /^Scan of training set\.zip$/ }).waitFor();
    const finding = page.locator(".finding").first();
    await finding.waitFor();
    if ((await finding.locator("svg.timeline[role=img]").count()) !== 2) fail("a finding without its two timelines");
    if (!/how sure: \w/.test(await finding.textContent())) fail("a finding without how sure it is");
    await shoot(page, "scan");

    if (errors.length) fail(`script errors: ${errors.slice(0, 3).join(" | ")}`);
    console.log(`PEOPLE OK ${steps} steps`);
  } catch (err) {
    if (page) {
      console.log(`(at ${page.url()})`);
      await page.screenshot({ path: join(SHOTS, "failure.png"), fullPage: true }).catch(() => {});
    }
    throw err;
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.log(`PEOPLE FAILED after step ${steps}: ${err.message.split("\n")[0]}`);
  process.exit(1);
});
