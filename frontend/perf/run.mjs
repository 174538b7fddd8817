// Measures the dashboard against a query API holding the `eventflow-bench
// query` seed (1,000,000 events): time from navigation start until the page's
// data is rendered and React has hydrated it (interactive), p50/p95 over RUNS
// loads per page in headless Chromium; and the JavaScript each route sends on
// a first load, gzipped, from the build output.
//   npm run build && node perf/run.mjs        (see BENCHMARKS.md)
// Env: BIN_DIR (default ../target/release, needs eventflow-bench too), PERF_DATABASE
// (default eventflow_bench_query, the database of scripts/bench-query.sh; created and
// seeded here with `eventflow-bench query --seed 1000000` when it holds fewer events),
// SEED (default 1000000), RUNS (default 30).
import { chromium } from "playwright-core";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import path from "node:path";
import { BROWSER_ARGS, FRONTEND, RESULTS, call, startStack, stopAll } from "../e2e/stack.mjs";

const RUNS = Number(process.env.RUNS ?? 30);
const database = process.env.PERF_DATABASE ?? "eventflow_bench_query";

// The seeded database outlives a run, so its endpoint secrets need the same sealing key every time.
process.env.EVENTFLOW_SECRETS_KEY ??= createHash("sha256").update("eventflow dashboard perf").digest("base64");
const stack = await startStack({ database, binDir: process.env.BIN_DIR ?? "../target/release", noDispatcher: true, redisPrefix: "perfdash:" });
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: BROWSER_ARGS });
try {
  console.log("seeding (skipped when the database holds the seed already)");
  execFileSync(path.join(stack.bin, "eventflow-bench"), [
    "query", "--database-url", stack.env.EVENTFLOW_DATABASE_URL, "--query-url", stack.query,
    "--seed", process.env.SEED ?? "1000000", "--readers", "1", "--duration", "1s",
  ], { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, ...stack.env } });
  const projects = await call(stack.query, "GET", "/v1/projects", stack.adminToken);
  const project = projects.data.find((p) => p.name === "bench-query");
  if (!project) throw new Error(`no bench-query project in ${database}: seed it with KEEP=1 scripts/bench-query.sh 1`);
  const { key } = await call(stack.query, "POST", "/v1/api-keys", stack.adminToken, { project_id: project.id, name: "dashboard perf", scopes: ["read"] });
  const sample = await call(stack.query, "GET", "/v1/events?limit=200", key);
  console.log(`project ${project.id}: ${sample.data.length ? "has events" : "EMPTY"}`);
  const eventIds = sample.data.map((e) => e.id);

  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // Layout shift of every load, summed as CLS counts it (without the windowing).
  await ctx.addInitScript(() => {
    window.__cls = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (!e.hadRecentInput) window.__cls += e.value;
    }).observe({ type: "layout-shift", buffered: true });
  });
  const page = await ctx.newPage();
  await page.goto(`${stack.dashboard}/signin`);
  await page.fill("#key", key);
  await Promise.all([page.waitForURL((u) => u.pathname === "/"), page.click("button[type=submit]:has-text('Sign in')")]);

  const targets = [
    { name: "events", url: () => "/events", ready: "[data-testid=events-table] tbody tr", target: 1000 },
    { name: "event detail", url: (i) => `/events/${eventIds[i % eventIds.length]}`, ready: "[data-testid=delivery], .json", target: 1000 },
    { name: "overview (day)", url: () => "/?window=day", ready: "figure.chart svg", target: 1500 },
  ];
  const pct = (xs, p) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
  };
  const report = { runs: RUNS, pages: [], js: [] };
  for (const t of targets) {
    const rendered = [];
    const interactive = [];
    let cls = 0;
    for (let i = 0; i < RUNS + 2; i++) {
      await page.goto(`${stack.dashboard}${t.url(i)}`, { waitUntil: "commit" });
      await page.waitForSelector(t.ready, { timeout: 30_000 });
      const tRendered = await page.evaluate(() => performance.now());
      await page.waitForFunction(() => document.documentElement.dataset.hydrated, null, { timeout: 30_000 });
      const tHydrated = await page.evaluate(() => Number(document.documentElement.dataset.hydrated));
      if (i < 2) continue; // warm-up: the server's first renders compile nothing but fill caches
      await page.waitForTimeout(300); // let late shifts (a swapped-in local time) be observed
      cls = Math.max(cls, await page.evaluate(() => window.__cls));
      rendered.push(tRendered);
      interactive.push(Math.max(tRendered, tHydrated));
    }
    const row = { page: t.name, rendered_p50_ms: Math.round(pct(rendered, 50)), interactive_p50_ms: Math.round(pct(interactive, 50)), interactive_p95_ms: Math.round(pct(interactive, 95)), target_ms: t.target, worst_layout_shift: +cls.toFixed(4) };
    row.ok = row.interactive_p95_ms <= t.target;
    report.pages.push(row);
    console.log(JSON.stringify(row));
  }

  // JavaScript of a first load: every script the route loads, gzipped as a server would send it.
  for (const route of ["/signin", "/", "/events", `/events/${eventIds[0]}`, "/endpoints"]) {
    const c = await browser.newContext();
    if (route !== "/signin") await c.addCookies(await ctx.cookies());
    const p = await c.newPage();
    const scripts = new Set();
    p.on("response", (r) => {
      const u = new URL(r.url());
      if (u.pathname.startsWith("/_next/static/") && u.pathname.endsWith(".js")) scripts.add(u.pathname);
    });
    await p.goto(`${stack.dashboard}${route}`, { waitUntil: "networkidle" });
    let raw = 0;
    let gz = 0;
    for (const s of scripts) {
      const file = readFileSync(path.join(FRONTEND, ".next", "static", decodeURIComponent(s.slice("/_next/static/".length))));
      raw += file.length;
      gz += gzipSync(file).length;
    }
    const row = { route: route.replace(/evt_\w+/, "[id]"), scripts: scripts.size, raw_kb: +(raw / 1024).toFixed(1), gzip_kb: +(gz / 1024).toFixed(1), ok: gz <= 200 * 1024 };
    report.js.push(row);
    console.log(JSON.stringify(row));
    await c.close();
  }
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(path.join(RESULTS, "perf.json"), JSON.stringify(report, null, 2));
  const bad = [...report.pages, ...report.js].filter((r) => !r.ok).length;
  console.log(`dashboard perf: ${bad === 0 ? "all targets met" : `${bad} target(s) missed`} (test-results/perf.json)`);
} finally {
  await browser.close();
  stopAll();
}
