import { describe, expect, it } from "vitest";
import { formatDuration, formatPercent, formatRelative, formatUtc, localInputToRfc3339 } from "@/lib/format";
import { errorsByField, parseHeaderLines, splitList, ENDPOINT_FIELDS } from "@/lib/fields";
import { apiParams, explorerHref, pageLinks, readExplorer } from "@/lib/explorer";
import { eventsPerMinute, successRates, summarize } from "@/lib/stats";
import type { StatsPoint } from "@/lib/types";

describe("format", () => {
  it("shows UTC with a fixed width", () => {
    expect(formatUtc("2026-12-07T09:03:04.123Z")).toBe("2026-12-07 09:03:04 UTC");
  });
  it("reads a datetime-local value in the viewer's zone", () => {
    expect(localInputToRfc3339("2026-12-07T10:00", 60)).toBe("2026-12-07T09:00:00.000Z");
    expect(localInputToRfc3339("2026-12-07T10:00:30", -300)).toBe("2026-12-07T15:00:30.000Z");
    expect(localInputToRfc3339("yesterday")).toBeNull();
  });
  it("says relative times both ways", () => {
    const now = Date.parse("2026-12-07T12:00:00Z");
    expect(formatRelative("2026-12-07T11:57:00Z", now)).toBe("3 min ago");
    expect(formatRelative("2026-12-07T12:00:05Z", now)).toBe("in 5 s");
  });
  it("formats durations and ratios", () => {
    expect(formatDuration(0.25)).toBe("0.25 ms");
    expect(formatDuration(12.4)).toBe("12 ms");
    expect(formatDuration(1500)).toBe("1.50 s");
    expect(formatPercent(null)).toBe("—");
    expect(formatPercent(1)).toBe("100%");
    expect(formatPercent(0.9876)).toBe("98.8%");
  });
});

describe("API field errors", () => {
  it("lands each error on its form field, nested ones included", () => {
    const out = errorsByField(
      [
        { field: "url", message: "must use http or https" },
        { field: "event_types[1]", message: "is not a valid filter" },
        { field: "headers.webhook-id", message: "is reserved" },
        { field: "body", message: "invalid JSON body" },
      ],
      ENDPOINT_FIELDS,
    );
    expect(out.url).toBe("must use http or https");
    expect(out.event_types).toBe("[1]: is not a valid filter");
    expect(out.headers).toBe("webhook-id: is reserved");
    expect(out._form).toBe("body: invalid JSON body");
  });
  it("parses header lines and refuses a line without a colon", () => {
    expect(parseHeaderLines("x-team: payments\n\nx-env:  prod ")).toEqual({ headers: { "x-team": "payments", "x-env": "prod" } });
    expect(parseHeaderLines("x-team payments")).toEqual({ error: 'line 1 must look like "name: value"' });
    expect(splitList("order.*, user.signup\n,")).toEqual(["order.*", "user.signup"]);
  });
});

describe("explorer URL state", () => {
  it("walks older pages and back to the newest with the cursor trail", () => {
    const first = readExplorer({ type: "order.*" });
    const { older } = pageLinks(first, "c1");
    expect(older).toBe("/events?type=order.*&cursor=c1&trail=-");
    const second = readExplorer(Object.fromEntries(new URL(`http://x${older}`).searchParams));
    const third = readExplorer(Object.fromEntries(new URL(`http://x${pageLinks(second, "c2").older}`).searchParams));
    expect(third.trail).toEqual(["-", "c1"]);
    expect(pageLinks(third, null)).toEqual({ older: null, newer: "/events?type=order.*&cursor=c1&trail=-" });
    expect(pageLinks(second, "c2").newer).toBe("/events?type=order.*");
  });
  it("turns the time range into RFC 3339 in the viewer's zone and ignores a bad status", () => {
    const s = readExplorer({ since: "2026-12-07T10:00", tz: "120", status: "bogus" });
    expect(s.status).toBe("");
    expect(apiParams(s, 50)).toMatchObject({ since: "2026-12-07T08:00:00.000Z", limit: 50 });
    expect(explorerHref(s, { live: true })).toBe("/events?since=2026-12-07T10%3A00&tz=120&live=1");
  });
});

describe("statistics", () => {
  const point = (events: number, ok: number, failed: number, attempts: number, p50: number | null, p99: number | null): StatsPoint => ({
    start: "2026-12-07T10:00:00Z", events, deliveries_succeeded: ok, deliveries_failed: failed, attempts, latency_ms: { p50, p99 },
  });
  it("summarizes a window: totals, success rate, weighted p50, worst p99", () => {
    const s = summarize([point(10, 9, 1, 12, 5, 50), point(0, 0, 0, 0, null, null), point(30, 30, 0, 36, 2, 20)]);
    expect(s).toEqual({ events: 40, succeeded: 39, failed: 1, attempts: 48, successRate: 39 / 40, p50: 2, p99: 50 });
  });
  it("leaves a gap where nothing ended and spreads hour buckets per minute", () => {
    expect(successRates([point(1, 0, 0, 0, null, null), point(1, 1, 1, 2, 1, 1)])).toEqual([null, 0.5]);
    expect(eventsPerMinute([point(120, 0, 0, 0, null, null)], "hour")).toEqual([2]);
  });
});
