// The dashboard in a real browser: Debian's chromium, headless, driven by playwright-core.
//
//   node tests/browser/dashboard.test.mjs <gateway-port> <api-key>
//
// Opens the page the gateway serves at /, enters the key, posts events to /v1/events and checks
// they appear in the table, that an eventType of <img src=x onerror=alert(1)> shows as text (no
// element, no dialog), that the key lives only in sessionStorage, that a reload reconnects by
// itself, and that a wrong key is reported. Exit code 0 when every check passed.
// Started by tests/integration/dashboard_browser_e2etest.cpp; CHROMIUM overrides the browser path,
// SCREENSHOT=file.png saves what the page showed.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";

const [port, apiKey] = process.argv.slice(2);
if (!port || !apiKey) {
  console.error("usage: dashboard.test.mjs <port> <api-key>");
  process.exit(2);
}
const base = `http://127.0.0.1:${port}`;
const XSS = "<img src=x onerror=alert(1)>";
const deadline = setTimeout(() => {
  console.error("FAIL: the browser test took longer than 90 s");
  process.exit(1);
}, 90_000);

function check(condition, what) {
  if (!condition) throw new Error(what);
  console.log("ok - " + what);
}

async function post(events, key = apiKey) {
  const res = await fetch(`${base}/v1/events`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": key, "idempotency-key": randomUUID() },
    body: JSON.stringify(events),
  });
  if (res.status !== 202) throw new Error(`POST /v1/events answered ${res.status}: ${await res.text()}`);
}

const event = (deviceId, eventType, value = 1) => ({ deviceId, eventType, value, timestamp: Date.now() });

// The channel is subscribed a moment after the socket opened (Redis confirms asynchronously):
// post markers until one shows up in the table.
async function waitLive(page) {
  const until = Date.now() + 15_000;
  while (Date.now() < until) {
    const device = randomUUID();
    await post([event(device, "marker")]);
    try {
      await page.locator("#events td", { hasText: device }).first().waitFor({ timeout: 300 });
      return;
    } catch { /* not yet */ }
  }
  throw new Error("no marker event reached the table within 15 s");
}

const profile = mkdtempSync(join(tmpdir(), "pulsestream-chromium-"));
let context;
let failed = false;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = context.pages()[0] || (await context.newPage());
  const dialogs = [];
  page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));

  const response = await page.goto(base + "/");
  check(response.status() === 200, "GET / answers 200");
  check((response.headers()["content-security-policy"] || "").includes("img-src 'none'"),
        "the page is served with a Content-Security-Policy");
  check(!(await page.content()).includes(apiKey), "the page embeds no API key");

  await page.fill("#api-key", apiKey);
  await page.click("#connect");
  await page.waitForSelector('#state[data-state="open"]', { timeout: 15_000 });
  check(true, "the dashboard connects with the key");
  check(await page.evaluate((k) => sessionStorage.getItem("pulsestream.apiKey") === k, apiKey),
        "the key is kept in sessionStorage");
  check(await page.evaluate(() => localStorage.length === 0), "nothing is kept in localStorage");
  check(await page.inputValue("#api-key") === "", "the key field is cleared");

  await waitLive(page);
  const device = randomUUID();
  const xssDevice = randomUUID();
  await post([event(device, "temperature", 21.5), event(xssDevice, XSS, 7)]);
  const xssCell = page.locator("#events td", { hasText: xssDevice }).first();
  await xssCell.waitFor({ timeout: 10_000 });
  await page.locator("#events td", { hasText: device }).first().waitFor({ timeout: 10_000 });
  check(true, "posted events appear in the table");
  const typeText = await xssCell.locator("xpath=following-sibling::td[1]").textContent();
  check(typeText === XSS, "an eventType of markup is shown as text");
  check(await page.locator("#events img, #legend img").count() === 0, "no element was created from event data");
  await page.locator("#legend", { hasText: "temperature" }).waitFor({ timeout: 5_000 });
  check(true, "the chart legend lists the event types");
  check(await page.evaluate(() => {
    const c = document.getElementById("chart");
    const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) return true;
    return false;
  }), "the chart is drawn");

  await page.reload();
  await page.waitForSelector('#state[data-state="open"]', { timeout: 15_000 });
  check(true, "after a reload the page reconnects with the stored key by itself");
  await waitLive(page);
  check(true, "events flow again after the reload");

  if (process.env.SCREENSHOT) {
    // A few seconds of traffic so that the chart has lines to show.
    for (let second = 0; second < 5; second++) {
      await post(["temperature", "humidity", "humidity", "door", "temperature", "temperature"]
        .slice(0, 3 + second).map((t, i) => ({ ...event(randomUUID(), t, i), metadata: { room: "lab" } })));
      await new Promise((r) => setTimeout(r, 1000));
    }
    await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
  }

  await page.click("#disconnect");
  check(await page.evaluate(() => sessionStorage.getItem("pulsestream.apiKey") === null),
        "disconnecting forgets the key");
  await page.fill("#api-key", "ps_live_not_a_key");
  await page.click("#connect");
  await page.waitForSelector('#state[data-state="rejected"]', { timeout: 15_000 });
  check((await page.textContent("#state")).includes("invalid_api_key"), "a wrong key is reported as such");

  check(dialogs.length === 0, "no dialog fired" + (dialogs.length ? ": " + dialogs.join(", ") : ""));
  check(pageErrors.length === 0, "no script error" + (pageErrors.length ? ": " + pageErrors.join(", ") : ""));
} catch (e) {
  failed = true;
  console.error("FAIL: " + (e && e.stack ? e.stack : e));
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
  clearTimeout(deadline);
}
process.exit(failed ? 1 : 0);
