// The web app end to end in a real browser (Debian's chromium, headless, driven by playwright-core):
// a creator signs up, uploads two works (progress bars), sets terms; a licensee signs up and scans a dataset
// holding one of the works and sees the finding; the creator sees where the work was found; a second creator
// registers a copy, a claim opens, the second creator contests it, the first answers with a note, an admin
// resolves it. Screenshots (desktop and a 375-px phone) at each step; accessibility basics checked on each page.
//
// usage: node web_flow.mjs BASE_URL ARTIFACTS_DIR   (ARTIFACTS_DIR/scenario.json names the media and the admin)
// prints one line per step and "E2E OK <steps> steps, <pages> pages checked" at the end; exit code 0 or 1.

import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [, , BASE, ARTIFACTS] = process.argv;
if (!BASE || !ARTIFACTS) {
  console.error("usage: node web_flow.mjs BASE_URL ARTIFACTS_DIR");
  process.exit(2);
}
const scenario = JSON.parse(readFileSync(join(ARTIFACTS, "scenario.json"), "utf8"));
const SHOTS = join(ARTIFACTS, "screenshots");
mkdirSync(SHOTS, { recursive: true });
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 740 };
const PASSWORD = "a long enough password";
let steps = 0;
let currentPage = null;
let pagesChecked = 0;
const problems = [];

function fail(message) {
  throw new Error(message);
}

// Every form control has an accessible name; landmarks are there; nothing sticks out at 375 px.
async function checkPage(page, name) {
  const report = await page.evaluate(() => {
    const out = { unnamed: [], landmarks: {}, wide: [], scrollWidth: 0, inner: window.innerWidth, inlineHandlers: 0 };
    const controls = document.querySelectorAll("input:not([type=hidden]), select, textarea, button");
    for (const c of controls) {
      const labelled = (c.labels && c.labels.length > 0 && [...c.labels].some((l) => l.textContent.trim()))
        || (c.getAttribute("aria-label") || "").trim()
        || (c.getAttribute("aria-labelledby") || "").split(/\s+/).some((id) => id && document.getElementById(id))
        || (c.tagName === "BUTTON" && c.textContent.trim())
        || (c.getAttribute("title") || "").trim();
      if (!labelled) out.unnamed.push(c.outerHTML.slice(0, 120));
    }
    out.landmarks = { header: !!document.querySelector("header"), nav: !!document.querySelector("nav"),
                      main: !!document.querySelector("main"), h1: !!document.querySelector("h1"),
                      lang: !!document.documentElement.lang,
                      viewport: !!document.querySelector("meta[name=viewport]") };
    for (const e of document.body.querySelectorAll("*")) {
      const r = e.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (r.right > window.innerWidth + 1 || r.left < -1) {
        // the skip link waits off-screen until focused, by design
        if (!e.classList.contains("skip")) out.wide.push(`${e.tagName.toLowerCase()}.${e.className} right=${Math.round(r.right)}`);
      }
    }
    out.scrollWidth = document.documentElement.scrollWidth;
    for (const e of document.querySelectorAll("*")) {
      for (const a of e.getAttributeNames()) if (a.startsWith("on")) out.inlineHandlers++;
    }
    return out;
  });
  if (report.unnamed.length) problems.push(`${name}: form controls without an accessible name: ${report.unnamed.join(" | ")}`);
  for (const [k, v] of Object.entries(report.landmarks)) if (!v) problems.push(`${name}: no ${k}`);
  if (report.inlineHandlers) problems.push(`${name}: ${report.inlineHandlers} inline event handler(s)`);
  if (page.viewportSize().width === PHONE.width) {
    if (report.wide.length) problems.push(`${name} (phone): elements wider than the viewport: ${report.wide.slice(0, 5).join(", ")}`);
    if (report.scrollWidth > PHONE.width + 1) problems.push(`${name} (phone): horizontal scroll (${report.scrollWidth} px)`);
  }
  pagesChecked++;
}

// A screenshot on the desktop and on a phone, with the checks at both sizes.
async function shoot(page, name) {
  steps++;
  await page.setViewportSize(DESKTOP);
  await checkPage(page, name);
  await page.screenshot({ path: join(SHOTS, `${String(steps).padStart(2, "0")}-${name}-desktop.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  await checkPage(page, name);
  await page.screenshot({ path: join(SHOTS, `${String(steps).padStart(2, "0")}-${name}-phone.png`), fullPage: true });
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
  await page.getByRole("heading", { name: "Overview" }).waitFor();
}

async function signIn(page, email, password = PASSWORD) {
  await page.goto(`${BASE}/app/signin`);
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${BASE}/app`);
}

async function signOut(page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/app\/signin$/);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: scenario.chromium || "/usr/bin/chromium", headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--no-first-run"],
  });
  const consoleErrors = [];
  try {
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    currentPage = page;
    page.setDefaultTimeout(60_000);
    // script errors and CSP refusals count; an error page's own status (e.g. the 400 of a refused form) does not
    page.on("console", (m) => {
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) consoleErrors.push(m.text());
    });
    page.on("response", (r) => {
      if (r.url().includes("/app/static/") && r.status() >= 400) consoleErrors.push(`${r.url()}: ${r.status()}`);
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));

    // 1. the landing page, then a creator signs up
    await page.goto(`${BASE}/app`);
    await shoot(page, "landing");
    await signUp(page, { email: "ana.e2e@example.org", role: "creator", creator: scenario.creator_a });
    await shoot(page, "creator-overview");

    // 2. two works and a broken file at once: a progress bar per file, then each registration job's outcome
    await page.goto(`${BASE}/app/works`);
    await page.getByLabel(/Files \(one work each\)/).setInputFiles([...scenario.works, scenario.broken_work]);
    await page.getByRole("button", { name: "Upload and register" }).click();
    const rows = page.locator(".file-progress li");
    await rows.nth(2).waitFor();
    if ((await rows.count()) !== 3) fail("expected a progress row per file");
    if ((await page.locator(".file-progress progress").count()) !== 3) fail("expected a progress bar per file");
    await page.locator(".file-progress li.ok").nth(1).waitFor({ timeout: 120_000 });
    const broken = page.locator(".file-progress li.error");
    await broken.waitFor({ timeout: 120_000 });
    const why = await broken.textContent();
    if (!/broken\.wav.*failed: every file failed \(1 of 1\): broken\.wav: /.test(why)) fail(`the broken file's row says ${JSON.stringify(why)}`);
    try {
      await page.locator("#status", { hasText: /2 done, 1 failed/ }).waitFor({ timeout: 30_000 });
    } catch (err) {
      fail(`upload status says ${JSON.stringify(await page.locator("#status").textContent())}`);
    }
    await shoot(page, "works-uploaded");
    await page.reload();
    const titles = await page.locator("table.works tbody tr").count();
    if (titles !== 2) fail(`works list shows ${titles} works, expected 2`);

    // 3. terms per use for the first work: AI training licensed at 30 EUR per work, generative use denied
    await page.locator("table.works").getByRole("link", { name: scenario.work_a_title }).click();
    const workUrl = page.url();
    await page.locator("#ai_training-decision").selectOption("license");
    await page.locator("#ai_training-price").fill("30");
    await page.locator("#ai_training-currency").fill("EUR");
    await page.locator("#ai_generative-decision").selectOption("deny");
    await page.getByRole("button", { name: "Save terms" }).click();
    await page.waitForURL(/saved=1/);
    const termsText = await page.locator("table").first().textContent();
    if (!termsText.includes("license 30 EUR per-work")) fail(`terms not shown as set: ${termsText}`);
    await shoot(page, "work-terms");

    // a bad price is refused with a message (announced), nothing changes
    await page.locator("#ai_training-decision").selectOption("license");
    await page.locator("#ai_training-price").fill("-5");
    await page.locator("#ai_training-currency").fill("EUR");
    await page.getByRole("button", { name: "Save terms" }).click();
    await page.locator("[role=alert]").waitFor();
    await shoot(page, "work-terms-error");

    // default terms for all works
    await page.goto(`${BASE}/app/terms`);
    await page.locator("#voice_likeness-decision").selectOption("deny");
    await page.getByRole("button", { name: "Save default terms" }).click();
    await page.waitForURL(/saved=1/);
    await shoot(page, "default-terms");
    await page.goto(`${BASE}/app/publish`);
    await page.getByRole("heading", { name: "nginx" }).waitFor();
    await shoot(page, "publish");
    await signOut(page);

    // 4. a licensee signs up and scans a dataset that holds one of the works
    await signUp(page, { email: "lab.e2e@example.org", role: "licensee" });
    await page.goto(`${BASE}/app/scans`);
    await page.getByLabel("Dataset file").setInputFiles(scenario.dataset);
    await page.getByRole("button", { name: "Upload and scan" }).click();
    await page.getByRole("link", { name: "see the scan's findings" }).waitFor({ timeout: 120_000 });
    await shoot(page, "scan-uploaded");
    await page.getByRole("link", { name: "see the scan's findings" }).click();
    await page.locator("ol.items").waitFor();
    const itemsText = await page.locator("ol.items").textContent();
    if (!itemsText.includes(scenario.work_a_title)) fail(`the scan does not show the finding of ${scenario.work_a_title}`);
    if (!itemsText.includes("licensable") || !itemsText.includes("only with a licence: 30.00 EUR per work")) fail("the finding is not shown as licensable at 30 EUR");
    const reportHref = await page.getByRole("link", { name: "Download the report" }).getAttribute("href");
    const report = await page.request.get(`${BASE}${reportHref}`);
    if (report.status() !== 200 || !(await report.text()).includes(scenario.work_a_title)) fail("the HTML report does not download");
    const clean = await page.request.get(`${BASE}${await page.getByRole("link", { name: "Clean manifest" }).getAttribute("href")}`);
    if (clean.status() !== 200) fail(`clean manifest: ${clean.status()}`);
    await shoot(page, "scan-findings");
    await signOut(page);

    // 5. the creator sees where the work was found
    await signIn(page, "ana.e2e@example.org");
    await page.goto(`${BASE}/app/findings`);
    const found = await page.locator("table.findings").textContent();
    if (!found.includes(scenario.work_a_title)) fail("the creator does not see the scan finding");
    await shoot(page, "creator-findings");
    await signOut(page);

    // 6. a second creator registers a copy of the first work: a claim opens
    await signUp(page, { email: "copycat.e2e@example.org", role: "creator", creator: scenario.creator_b });
    await page.goto(`${BASE}/app/works`);
    await page.getByLabel(/Files \(one work each\)/).setInputFiles([scenario.works[0]]);
    await page.getByRole("button", { name: "Upload and register" }).click();
    const claimLink = page.locator(".file-progress a", { hasText: /claim .* opened/ });
    await claimLink.waitFor({ timeout: 120_000 });
    await shoot(page, "copy-registered-claim-opened");
    await claimLink.click();
    await page.getByRole("heading", { name: "What you can do" }).waitFor();
    await shoot(page, "claim-respondent");
    await page.getByLabel("Contest it (an administrator decides)").check();
    await page.locator("#answer-note").fill("I recorded this in my own studio.");
    await page.getByRole("button", { name: "Send the answer" }).click();
    await page.locator(".claim-state", { hasText: "contested" }).waitFor();
    const claimUrl = page.url();
    await signOut(page);

    // 7. the first creator sees the contested claim and answers it with a note
    await signIn(page, "ana.e2e@example.org");
    await page.goto(`${BASE}/app/claims`);
    await page.locator("table.claims").getByRole("link").first().click();
    await page.locator(".claim-state", { hasText: "contested" }).waitFor();
    await page.getByLabel("Add a note").fill("I registered it first; the session files are my evidence.");
    await page.getByRole("button", { name: "Add the note" }).click();
    await page.locator(".events", { hasText: "I registered it first" }).waitFor();
    await shoot(page, "claim-claimant-answered");
    await signOut(page);

    // 8. the admin resolves it for the first creator
    await signIn(page, scenario.admin_email, scenario.admin_password);
    await page.goto(claimUrl);
    await page.getByLabel(/For the claimant/).check();
    await page.locator("#resolve-note").fill("First registration and the session files.");
    await page.getByRole("button", { name: "Resolve" }).click();
    await page.locator(".claim-state", { hasText: /resolved/i }).waitFor();
    await shoot(page, "claim-resolved");
    await page.goto(`${BASE}/app/admin/audit`);
    await shoot(page, "admin-audit");
    await page.goto(`${BASE}/app/admin/accounts`);
    await shoot(page, "admin-accounts");

    // keyboard: the skip link is the first stop and takes focus to the content
    await page.goto(`${BASE}/app/works`);
    await page.keyboard.press("Tab");
    const first = await page.evaluate(() => document.activeElement && document.activeElement.textContent.trim());
    if (first !== "Skip to the content") fail(`the first Tab stop is ${JSON.stringify(first)}`);
    if (!workUrl) fail("no work page");

    if (consoleErrors.length) problems.push(`browser console errors: ${consoleErrors.slice(0, 5).join(" | ")}`);
    if (problems.length) {
      for (const p of problems) console.log(`PROBLEM ${p}`);
      fail(`${problems.length} accessibility or layout problem(s)`);
    }
    console.log(`E2E OK ${steps} steps, ${pagesChecked} pages checked`);
  } catch (err) {
    if (currentPage) {
      console.log(`(at ${currentPage.url()})`);
      await currentPage.screenshot({ path: join(SHOTS, "failure.png"), fullPage: true }).catch(() => {});
    }
    throw err;
  } finally {
    await browser.close();
  }
}

main().catch(async (err) => {
  console.log(`E2E FAILED after step ${steps}: ${err.message.split("\n")[0]}`);
  process.exit(1);
});
