import { localInputToRfc3339 } from "./format";

/** The explorer's state, all of it in the URL so that a view can be shared and back/forward keep their place. */
export interface ExplorerState {
  type: string;
  status: string;
  /** `ep_…`: only events delivered (or being delivered) to this endpoint. */
  endpoint: string;
  since: string;
  until: string;
  tz: string;
  cursor: string;
  /** Cursors of the pages before this one, oldest first; "-" is the first page. */
  trail: string[];
  live: boolean;
}

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v) ?? "";

export function readExplorer(sp: Record<string, string | string[] | undefined>): ExplorerState {
  const trail = one(sp.trail);
  return {
    type: one(sp.type).trim(),
    status: ["pending", "succeeded", "failed", "refused"].includes(one(sp.status)) ? one(sp.status) : "",
    endpoint: one(sp.endpoint).trim(),
    since: one(sp.since),
    until: one(sp.until),
    tz: one(sp.tz) || "0",
    cursor: one(sp.cursor),
    trail: trail ? trail.split(",").filter(Boolean) : [],
    live: one(sp.live) === "1",
  };
}

/** The query API's parameters for this state. */
export function apiParams(s: ExplorerState, limit: number): Record<string, string | number | undefined> {
  const tz = Number(s.tz) || 0;
  return {
    type: s.type || undefined,
    status: s.status || undefined,
    endpoint_id: s.endpoint || undefined,
    since: s.since ? localInputToRfc3339(s.since, tz) ?? s.since : undefined,
    until: s.until ? localInputToRfc3339(s.until, tz) ?? s.until : undefined,
    cursor: s.cursor || undefined,
    limit,
  };
}

/** The explorer URL of `s` with `change` applied. */
export function explorerHref(s: ExplorerState, change: Partial<ExplorerState>): string {
  const n = { ...s, ...change };
  const sp = new URLSearchParams();
  if (n.type) sp.set("type", n.type);
  if (n.status) sp.set("status", n.status);
  if (n.endpoint) sp.set("endpoint", n.endpoint);
  if (n.since) sp.set("since", n.since);
  if (n.until) sp.set("until", n.until);
  if ((n.since || n.until) && n.tz !== "0") sp.set("tz", n.tz);
  if (n.cursor) sp.set("cursor", n.cursor);
  if (n.trail.length) sp.set("trail", n.trail.join(","));
  if (n.live) sp.set("live", "1");
  const q = sp.toString();
  return q ? `/events?${q}` : "/events";
}

/** Links to the older and newer pages. */
export function pageLinks(s: ExplorerState, nextCursor: string | null | undefined) {
  const older = nextCursor ? explorerHref(s, { cursor: nextCursor, trail: [...s.trail, s.cursor || "-"], live: false }) : null;
  let newer: string | null = null;
  if (s.cursor) {
    const prev = s.trail[s.trail.length - 1];
    newer = explorerHref(s, { cursor: prev && prev !== "-" ? prev : "", trail: s.trail.slice(0, -1) });
  }
  return { older, newer };
}
