// End-to-end tests of the dashboard in Debian's Chromium (playwright-core, no
// downloaded browser) against a real stack started here: PostgreSQL, Redis,
// gateway, dispatcher, query API, a local receiver and the standalone
// dashboard. Each page is screenshotted (light/dark, phone/desktop) under
// test-results/ and checked with axe-core in both themes.
//   node e2e/run.mjs
import { chromium } from "playwright-core";
import { AxeBuilder } from "@axe-core/playwright";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { BROWSER_ARGS, RESULTS, call, cleanup, projectWithKey, startStack, waitFor } from "./stack.mjs";
import { startReceiver } from "./receiver.mjs";

const results = [];
let stack;
const started = Date.now();

async function test(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok    ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`FAIL  ${name}: ${e.stack ?? e}`);
  }
}

function expect(cond, message) {
  if (!cond) throw new Error(message);
}

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };

rmSync(path.join(RESULTS, "screenshots"), { recursive: true, force: true });
mkdirSync(path.join(RESULTS, "screenshots"), { recursive: true });

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: BROWSER_ARGS });
try {
  stack = await startStack();
  const receiver = await startReceiver();
  const base = stack.dashboard;
  const shop = await projectWithKey(stack, "shop", ["ingest", "read", "admin"]);
  const other = await projectWithKey(stack, "other", ["ingest", "read", "admin"]);
  const ingestOnly = await call(stack.query, "POST", "/v1/api-keys", stack.adminToken, { project_id: shop.project.id, name: "ingest only", scopes: ["ingest"] });
  const readOnly = await call(stack.query, "POST", "/v1/api-keys", stack.adminToken, { project_id: shop.project.id, name: "read only", scopes: ["read"] });
  const send = (type, payload, key = shop.key) => call(stack.gateway, "POST", "/v1/events", key, { type, payload });

  // Every page of every context reports its uncaught errors and React's
  // hydration complaints (logged, not thrown, when React recovers) here.
  const jsErrors = [];
  const watch = (p) => {
    p.on("pageerror", (e) => jsErrors.push(`${p.url()}: ${e.message}`));
    p.on("console", (m) => {
      if (m.type() === "error" && /hydrat|#418|#423|#425/i.test(m.text())) jsErrors.push(`${p.url()}: console: ${m.text()}`);
    });
  };
  // The browser runs in a zone other than the dashboard server's (UTC), so any
  // time rendered in the server's zone shows up as a hydration mismatch.
  const newContext = async (options) => {
    const c = await browser.newContext({ timezoneId: "America/New_York", locale: "de-DE", ...options });
    c.on("page", watch);
    return c;
  };
  const ctx = await newContext({ viewport: DESKTOP });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20_000);

  async function signIn(p, key) {
    await p.goto(`${base}/signin`);
    await p.fill("#key", key);
    await Promise.all([p.waitForURL((u) => !u.pathname.startsWith("/signin") || u.search.includes("error")), p.click("button[type=submit]:has-text('Sign in')")]);
  }

  let endpointId, secret, okEventId, failEventId;

  await test("a wrong key gets a page that says so and what to do", async () => {
    await signIn(page, "efk_this_is_not_a_key");
    await page.waitForSelector("#signin-error");
    const text = await page.textContent("#signin-error");
    expect(text.includes("not accepted") && text.includes("Admin"), `message: ${text}`);
  });

  await test("a key without read or admin scope is told which scope it needs", async () => {
    await signIn(page, ingestOnly.key);
    const text = await page.textContent("#signin-error");
    expect(text.includes("read scope"), `message: ${text}`);
  });

  await test("sign in keeps the key in an httpOnly SameSite=Strict cookie only", async () => {
    await signIn(page, shop.key);
    expect(new URL(page.url()).pathname === "/", `landed on ${page.url()}`);
    const cookie = (await ctx.cookies()).find((c) => c.name === "ef_session");
    expect(cookie && cookie.httpOnly && cookie.sameSite === "Strict", `cookie ${JSON.stringify(cookie)}`);
    expect((await page.evaluate(() => document.cookie)).includes("ef_session") === false, "script sees the session cookie");
    const html = await page.content();
    expect(!html.includes(shop.key), "the key appears in the page");
  });

  await test("creating an endpoint shows the API's field errors, then its secret", async () => {
    await page.goto(`${base}/endpoints/new`);
    await page.fill("#fld-url", "ftp://example.com/hooks");
    await page.fill("#fld-max_concurrency", "5000");
    await page.click("button:has-text('Create endpoint')");
    await page.waitForSelector("#fld-url-error");
    expect((await page.getAttribute("#fld-url", "aria-invalid")) === "true", "url not marked invalid");
    expect(await page.isVisible("#fld-max_concurrency-error"), "concurrency error not shown");
    await page.fill("#fld-url", receiver.url);
    await page.fill("#fld-max_concurrency", "4");
    await page.fill("#fld-event_types", "order.*, user.signup");
    await page.fill("#fld-headers", "x-team: payments");
    await page.click("button:has-text('Create endpoint')");
    await page.waitForURL(/\/endpoints\/ep_/);
    endpointId = new URL(page.url()).pathname.split("/").pop();
    secret = (await page.textContent("[data-testid=secret] code")).trim();
    expect(secret.startsWith("whsec_"), `secret ${secret}`);
  });

  await test("events sent through the gateway are found in the explorer, with filters and pages", async () => {
    const first = await send("order.created", { order_id: 1, total: 99.5, items: [{ sku: "A-1", qty: 2 }] });
    okEventId = first.id;
    await send("user.signup", { user: "ada" });
    await call(stack.gateway, "POST", "/v1/events/batch", shop.key, { events: Array.from({ length: 60 }, (_, i) => ({ type: "cart.updated", payload: { n: i } })) });
    await page.goto(`${base}/events`);
    await page.waitForSelector("[data-testid=events-table] tbody tr");
    expect((await page.locator("[data-testid=events-table] tbody tr").count()) === 50, "first page is not 50 rows");
    const firstRow = await page.textContent("[data-testid=events-table] tbody tr:first-child");
    await page.click("a:has-text('Older')");
    await page.waitForURL(/cursor=/);
    const page2 = await page.textContent("[data-testid=events-table] tbody");
    expect(page2.includes("order.created") && page2.includes("user.signup"), "older page lacks the first events");
    await page.goBack();
    await page.waitForURL((u) => !u.search.includes("cursor"));
    // The URL changes before the page does: wait for the first page's rows.
    await waitFor("the first page again after back", async () => (await page.textContent("[data-testid=events-table] tbody tr:first-child")) === firstRow, 10_000);
    await page.goForward();
    await page.waitForURL(/cursor=/);
    await page.click("a:has-text('Newer')");
    await page.waitForURL((u) => !u.search.includes("cursor"));
    await page.goto(`${base}/events?type=order.*`);
    const rows = await page.locator("[data-testid=events-table] tbody tr").allTextContents();
    expect(rows.length === 1 && rows[0].includes("order.created"), `order.* gave ${rows.length} rows`);
  });

  await test("live mode shows a new event without reloading", async () => {
    await page.goto(`${base}/events?live=1`);
    await page.waitForSelector("[data-testid=events-table]");
    await send("order.live", { live: true });
    await waitFor("the live event", async () => (await page.textContent("[data-testid=events-table] tbody")).includes("order.live"), 15_000);
  });

  await test("the event detail shows payload, and its delivery succeeds", async () => {
    await page.goto(`${base}/events/${okEventId}`);
    await page.waitForSelector(".json");
    expect((await page.textContent(".json")).includes('"sku"'), "payload not shown");
    await waitFor("delivery succeeded", async () => (await page.textContent("[data-testid=delivery]"))?.includes("Succeeded"), 20_000);
    expect((await page.textContent("[data-testid=attempt]")).includes("HTTP 200"), "attempt without HTTP 200");
    expect(receiver.requests.some((r) => r.headers["webhook-id"] === okEventId && r.headers["x-team"] === "payments"), "receiver did not get the event with its header");
  });

  await test("a failing receiver shows its retries in the timeline", async () => {
    receiver.status = 500;
    failEventId = (await send("order.failed", { order_id: 2 })).id;
    await page.goto(`${base}/events/${failEventId}`);
    await waitFor("two failed attempts", async () => (await page.locator("[data-testid=attempt]:has-text('HTTP 500')").count()) >= 2, 30_000);
    expect((await page.textContent("[data-testid=attempt] pre")).includes("maintenance"), "response snippet missing");
  });

  await test("replay sends the event again and the new attempt appears", async () => {
    receiver.status = 200;
    await page.goto(`${base}/events/${failEventId}`);
    const before = await page.locator("[data-testid=attempt]").count();
    await page.click("button:has-text('Replay')");
    await page.waitForURL(/replayed=/);
    await waitFor("a new HTTP 200 attempt", async () => (await page.locator("[data-testid=attempt]:has-text('HTTP 200')").count()) >= 1 && (await page.locator("[data-testid=attempt]").count()) > before, 30_000);
    await waitFor("delivery succeeded", async () => (await page.textContent("[data-testid=delivery]")).includes("Succeeded"), 20_000);
  });

  await test("the secret is revealed and rotated with a grace period", async () => {
    await page.goto(`${base}/endpoints/${endpointId}`);
    await page.click("a:has-text('Reveal secret')");
    await page.waitForSelector("[data-testid=secret] code");
    expect((await page.textContent("[data-testid=secret] code")).trim() === secret, "revealed secret differs from the created one");
    await page.fill("#grace", "2");
    await page.click("button:has-text('Rotate secret')");
    await page.waitForURL(/rotated=1/);
    const rotated = (await page.textContent("[data-testid=secret] code")).trim();
    expect(rotated.startsWith("whsec_") && rotated !== secret, "secret did not change");
    expect((await page.textContent("#main")).includes("previous secret keeps signing"), "grace period not shown");
  });

  await test("a test event is sent from the endpoint page and its result shown", async () => {
    await page.goto(`${base}/endpoints/${endpointId}`);
    await page.click("button:has-text('Send test event')");
    await page.waitForURL(/\/events\/evt_.*test=1/);
    await waitFor("test delivery succeeded", async () => (await page.textContent("[data-testid=delivery]"))?.includes("Succeeded"), 20_000);
  });

  await test("the overview draws the charts from /v1/stats", async () => {
    await waitFor("events counted in the overview", async () => {
      await page.goto(`${base}/?window=hour`);
      const v = await page.textContent(".cards .card:first-child .value");
      return Number(v.replace(/,/g, "")) >= 60;
    }, 40_000, 1000);
    expect((await page.locator("figure.chart svg[role=img]").count()) === 3, "three charts expected");
    expect((await page.locator("figure.chart rect").count()) > 0, "no bars drawn");
    expect((await page.textContent("#per-endpoint + .table-wrap")).includes(receiver.url), "endpoint row missing");
  });

  await test("a key of another project sees none of the first project's data", async () => {
    const c2 = await newContext({ viewport: DESKTOP });
    const p2 = await c2.newPage();
    await signIn(p2, other.key);
    await p2.goto(`${base}/events`);
    expect((await p2.textContent("#main")).includes("No events yet"), "other project sees events");
    await p2.goto(`${base}/events/${okEventId}`);
    expect((await p2.textContent("[role=alert]")).includes("Not Found"), "other project can open the event");
    await p2.goto(`${base}/endpoints`);
    expect((await p2.textContent("#main")).includes("No endpoints yet"), "other project sees endpoints");
    await p2.goto(`${base}/endpoints/${endpointId}`);
    expect((await p2.textContent("[role=alert]")).includes("Not Found"), "other project can open the endpoint");
    await c2.close();
  });

  await test("a read-only key sees data but no secret or replay", async () => {
    const c3 = await newContext({ viewport: DESKTOP });
    const p3 = await c3.newPage();
    await signIn(p3, readOnly.key);
    await p3.goto(`${base}/endpoints/${endpointId}?secret=show`);
    expect((await p3.locator("[data-testid=secret]").count()) === 0, "read key sees the secret");
    await p3.goto(`${base}/events/${okEventId}`);
    expect((await p3.textContent("#replay-h + *")).includes("admin scope"), "read key offered replay");
    await c3.close();
  });

  await test("the operator creates a key (shown once) and revokes it after confirming", async () => {
    const c4 = await newContext({ viewport: DESKTOP });
    const p4 = await c4.newPage();
    await signIn(p4, stack.adminToken);
    expect(new URL(p4.url()).pathname === "/admin", `operator landed on ${p4.url()}`);
    await p4.click(`a:has-text('shop')`);
    await p4.fill("#fld-key-name", "ci robot");
    await p4.click("button:has-text('Create key')");
    await p4.waitForSelector("[data-testid=new-key] code");
    const key = (await p4.textContent("[data-testid=new-key] code")).trim();
    expect(key.startsWith("efk_"), `key ${key}`);
    await call(stack.query, "GET", "/v1/endpoints", key);
    await p4.reload();
    expect((await p4.locator("[data-testid=new-key]").count()) === 0, "key shown again after reload");
    await p4.click("a[aria-label='Revoke key ci robot']");
    await p4.click("button:has-text('Yes, revoke')");
    await p4.waitForURL(/revoked=/);
    await waitFor("the key refused", async () => (await fetch(`${stack.query}/v1/endpoints`, { headers: { authorization: `Bearer ${key}` } })).status === 401, 15_000);
    await c4.close();
  });

  await test("sign out forgets the key", async () => {
    const c5 = await newContext({ viewport: DESKTOP });
    const p5 = await c5.newPage();
    await signIn(p5, shop.key);
    await p5.click("button:has-text('Sign out')");
    await p5.waitForURL(/signedout=1/);
    await p5.goto(`${base}/events`);
    expect(new URL(p5.url()).pathname === "/signin", "still signed in");
    await c5.close();
  });

  // Every page: screenshots in both themes at both widths, axe in both themes.
  const pages = [
    ["signin", "/signin", false],
    ["overview", "/?window=hour", true],
    ["events", "/events", true],
    ["event-detail", `/events/${failEventId}`, true],
    ["endpoints", "/endpoints", true],
    ["endpoint-detail", `/endpoints/${endpointId}?secret=show`, true],
    ["endpoint-new", "/endpoints/new", true],
    ["admin", "/admin", true],
  ];
  for (const theme of ["light", "dark"]) {
    await test(`axe finds no serious or critical violation on any page (${theme})`, async () => {
      const problems = [];
      for (const viewport of [DESKTOP, PHONE]) {
        const c = await newContext({ viewport, colorScheme: theme, timezoneId: theme === "dark" ? "Asia/Kolkata" : "America/New_York" });
        await c.addCookies([{ name: "ef_theme", value: theme, url: base }]);
        const p = await c.newPage();
        await signIn(p, shop.key);
        for (const [name, url, signedIn] of pages) {
          if (!signedIn) await c.clearCookies({ name: "ef_session" });
          await p.goto(`${base}${url}`);
          await p.waitForLoadState("networkidle").catch(() => {});
          const width = viewport === PHONE ? "phone" : "desktop";
          await p.screenshot({ path: path.join(RESULTS, "screenshots", `${name}-${theme}-${width}.png`), fullPage: true });
          if (viewport === DESKTOP) {
            const axe = await new AxeBuilder({ page: p }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
            for (const v of axe.violations.filter((v) => v.impact === "serious" || v.impact === "critical")) {
              problems.push(`${name}: ${v.id} (${v.impact}) ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
            }
          }
          if (!signedIn) await signIn(p, shop.key);
        }
        await c.close();
      }
      expect(problems.length === 0, problems.join("\n"));
    });
  }

  await test("pages can be used with the keyboard alone", async () => {
    await page.goto(`${base}/events`);
    await page.keyboard.press("Tab");
    expect((await page.evaluate(() => document.activeElement?.textContent)) === "Skip to content", "first Tab is not the skip link");
    await page.keyboard.press("Enter");
    await page.keyboard.press("Tab");
    const inMain = await page.evaluate(() => !!document.activeElement?.closest("main"));
    expect(inMain, "after skipping, focus is not in the main content");
    for (let i = 0; i < 6 && (await page.evaluate(() => document.activeElement?.id)) !== "f-type"; i++) await page.keyboard.press("Tab");
    await page.keyboard.type("order.*");
    await page.keyboard.press("Enter");
    await page.waitForURL(/type=order/);
  });

  await test("no JavaScript errors in the pages", async () => {
    // Any hydration mismatch (React #418) on any page fails: it means the server
    // and the browser rendered different text, and React threw the server's HTML away.
    expect(jsErrors.length === 0, jsErrors.join("\n"));
  });
} catch (e) {
  results.push({ name: "setup", ok: false });
  console.log(`FAIL  setup: ${e.stack ?? e}`);
} finally {
  await browser.close();
  cleanup(stack);
}
const failed = results.filter((r) => !r.ok).length;
console.log(`frontend e2e: ${results.length - failed} passed, ${failed} failed (${((Date.now() - started) / 1000).toFixed(0)} s)`);
process.exit(failed ? 1 : 0);
