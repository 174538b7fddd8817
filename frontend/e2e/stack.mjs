// Starts a real EventFlow stack for the browser tests and the performance
// script: PostgreSQL database and Redis prefix of its own, the gateway,
// dispatcher and query API binaries on free loopback ports, and the
// dashboard's standalone server.
import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:net";
import { createWriteStream, mkdirSync, existsSync, cpSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";

export const FRONTEND = path.resolve(import.meta.dirname, "..");
export const RESULTS = path.join(FRONTEND, "test-results");

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or the deadline passes. */
export async function waitFor(what, fn, timeoutMs = 30_000, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

const children = [];
export function stopAll() {
  for (const c of children.reverse()) {
    try {
      c.kill("SIGTERM");
    } catch {}
  }
}
process.on("exit", stopAll);

function start(name, cmd, args, env, cwd) {
  mkdirSync(path.join(RESULTS, "logs"), { recursive: true });
  const log = createWriteStream(path.join(RESULTS, "logs", `${name}.log`));
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, cwd, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  child.on("exit", (code, signal) => {
    if (!child.stopping && code !== 0 && signal !== "SIGTERM") console.error(`${name} exited (${code ?? signal}); see test-results/logs/${name}.log`);
  });
  children.push(child);
  return child;
}

async function ready(url, what) {
  await waitFor(`${what} at ${url}`, async () => (await fetch(url)).ok, 60_000, 250);
}

/**
 * Starts the services. `opts.database` names an existing database to use as is
 * (the perf seed); otherwise a fresh one is created and migrated.
 */
export async function startStack(opts = {}) {
  const bin = path.resolve(FRONTEND, opts.binDir ?? process.env.BIN_DIR ?? "../target/debug");
  for (const b of ["ingest-gateway", "dispatcher", "query-api", "eventflow"]) {
    if (!existsSync(path.join(bin, b))) throw new Error(`missing ${path.join(bin, b)}: build it with cargo build -p ingest-gateway -p dispatcher -p query-api -p eventflow-cli`);
  }
  const tag = `${Date.now().toString(36)}${process.pid}`;
  const database = opts.database ?? `eventflow_fe_${tag}`;
  const pg = process.env.PGURL ?? "postgres://postgres@127.0.0.1:5432";
  const exists = () => execFileSync("psql", [`${pg}/postgres`, "-tAc", `SELECT 1 FROM pg_database WHERE datname = '${database}'`]).toString().trim() === "1";
  const create = !opts.database || !exists();
  if (create) execFileSync("psql", [`${pg}/postgres`, "-qc", `CREATE DATABASE ${database}`], { stdio: "inherit" });
  const prefix = opts.redisPrefix ?? `fe${tag}:`;
  const common = {
    EVENTFLOW_DATABASE_URL: `${pg}/${database}`,
    EVENTFLOW_REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    EVENTFLOW_REDIS_KEY_PREFIX: prefix,
    EVENTFLOW_LOG: "warn",
    EVENTFLOW_INTERNAL_TOKEN: `fe-internal-${randomBytes(12).toString("hex")}`,
    EVENTFLOW_SECRETS_KEY: process.env.EVENTFLOW_SECRETS_KEY ?? randomBytes(32).toString("base64"),
  };
  execFileSync(path.join(bin, "eventflow"), ["migrate"], { env: { ...process.env, ...common }, stdio: "ignore" });
  const [gwHttp, gwGrpc, dHttp, dGrpc, qHttp, qGrpc, web] = await Promise.all(Array.from({ length: 7 }, freePort));
  const adminToken = `fe-operator-${randomBytes(16).toString("hex")}`;
  start("ingest-gateway", path.join(bin, "ingest-gateway"), [], { ...common, EVENTFLOW_HTTP_ADDR: `127.0.0.1:${gwHttp}`, EVENTFLOW_GRPC_ADDR: `127.0.0.1:${gwGrpc}` });
  if (!opts.noDispatcher) {
    start("dispatcher", path.join(bin, "dispatcher"), [], {
      ...common,
      EVENTFLOW_HTTP_ADDR: `127.0.0.1:${dHttp}`,
      EVENTFLOW_GRPC_ADDR: `127.0.0.1:${dGrpc}`,
      EVENTFLOW_RETRY_SCHEDULE: opts.retrySchedule ?? "0s,1s,1s,1s,1s",
      EVENTFLOW_ENDPOINT_ALLOW_NETS: "127.0.0.0/8",
      EVENTFLOW_RECOVERY_GRACE: "2s",
      EVENTFLOW_ENDPOINT_CACHE_TTL: "1s",
    });
  }
  start("query-api", path.join(bin, "query-api"), [], {
    ...common,
    EVENTFLOW_HTTP_ADDR: `127.0.0.1:${qHttp}`,
    EVENTFLOW_GRPC_ADDR: `127.0.0.1:${qGrpc}`,
    EVENTFLOW_ADMIN_TOKEN: adminToken,
    EVENTFLOW_DISPATCHER_GRPC_URL: `http://127.0.0.1:${dGrpc}`,
    EVENTFLOW_ENDPOINT_ALLOW_NETS: "127.0.0.0/8",
    EVENTFLOW_AUTH_CACHE_TTL: "1s",
  });
  const gateway = `http://127.0.0.1:${gwHttp}`;
  const query = `http://127.0.0.1:${qHttp}`;
  await Promise.all([ready(`${gateway}/readyz`, "gateway"), ready(`${query}/readyz`, "query API"), opts.noDispatcher ? null : ready(`http://127.0.0.1:${dHttp}/readyz`, "dispatcher")]);
  const dashboard = await startDashboard(query, web);
  return { gateway, query, dashboard, adminToken, database, prefix, pg, bin, env: common };
}

/** Runs the standalone build (what the container ships) against `query`. */
export async function startDashboard(query, port) {
  const standalone = path.join(FRONTEND, ".next", "standalone");
  if (!existsSync(path.join(standalone, "server.js"))) throw new Error("no .next/standalone/server.js: run npm run build first");
  // The standalone folder serves static files only when they are copied next to it.
  cpSync(path.join(FRONTEND, ".next", "static"), path.join(standalone, ".next", "static"), { recursive: true });
  start("dashboard", process.execPath, [path.join(standalone, "server.js")], {
    PORT: String(port),
    HOSTNAME: "127.0.0.1",
    EVENTFLOW_QUERY_URL: query,
    NEXT_TELEMETRY_DISABLED: "1",
    NODE_ENV: "production",
  }, standalone);
  const url = `http://127.0.0.1:${port}`;
  await ready(`${url}/signin`, "dashboard");
  return url;
}

/** Drops the test database and Redis keys (best effort). */
export function cleanup(stack) {
  stopAll();
  if (!stack) return;
  try {
    execFileSync("psql", [`${stack.pg}/postgres`, "-qc", `DROP DATABASE IF EXISTS ${stack.database} WITH (FORCE)`], { stdio: "ignore" });
  } catch {}
  try {
    execFileSync("sh", ["-c", `redis-cli -h 127.0.0.1 --scan --pattern '${stack.prefix}*' | xargs -r redis-cli -h 127.0.0.1 del`], { stdio: "ignore" });
  } catch {}
}

/** JSON call to a service. */
export async function call(base, method, path_, key, body) {
  const request = () =>
    fetch(base + path_, {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  // A kept-alive connection the server closed meanwhile fails once; a new one does not.
  const r = await request().catch(request);
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  if (!r.ok) throw new Error(`${method} ${path_}: ${r.status} ${text.slice(0, 300)}`);
  return json;
}

/** A project and a key through the query API, as the operator. */
export async function projectWithKey(stack, name, scopes) {
  const project = await call(stack.query, "POST", "/v1/projects", stack.adminToken, { name });
  const created = await call(stack.query, "POST", "/v1/api-keys", stack.adminToken, { project_id: project.id, name: `${name} key`, scopes });
  return { project, key: created.key };
}

export const BROWSER_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
