import type { StatsPoint } from "./types";

export type Window = "hour" | "day" | "week";

export const WINDOWS: Record<Window, { label: string; bucket: "minute" | "hour"; ms: number; refreshMs: number }> = {
  hour: { label: "Last hour", bucket: "minute", ms: 3_600_000, refreshMs: 10_000 },
  day: { label: "Last day", bucket: "hour", ms: 86_400_000, refreshMs: 30_000 },
  week: { label: "Last week", bucket: "hour", ms: 7 * 86_400_000, refreshMs: 60_000 },
};

export function parseWindow(raw: string | string[] | undefined): Window {
  return raw === "day" || raw === "week" ? raw : "hour";
}

const BUCKET_MINUTES = { minute: 1, hour: 60, day: 1440 } as const;

/** Events per minute of each bucket (an hour bucket's count spread over its 60 minutes). */
export function eventsPerMinute(series: StatsPoint[], bucket: keyof typeof BUCKET_MINUTES): number[] {
  return series.map((p) => p.events / BUCKET_MINUTES[bucket]);
}

/** Succeeded / (succeeded + dead-lettered) of each bucket; null where nothing ended. */
export function successRates(series: StatsPoint[]): (number | null)[] {
  return series.map((p) => {
    const ended = p.deliveries_succeeded + p.deliveries_failed;
    return ended === 0 ? null : p.deliveries_succeeded / ended;
  });
}

export interface Summary {
  events: number;
  succeeded: number;
  failed: number;
  attempts: number;
  successRate: number | null;
  /** Attempt-weighted median of the buckets' p50. */
  p50: number | null;
  /** The worst bucket's p99. */
  p99: number | null;
}

export function summarize(series: StatsPoint[]): Summary {
  let events = 0, succeeded = 0, failed = 0, attempts = 0;
  let p99: number | null = null;
  const p50s: { value: number; weight: number }[] = [];
  for (const p of series) {
    events += p.events;
    succeeded += p.deliveries_succeeded;
    failed += p.deliveries_failed;
    attempts += p.attempts;
    if (p.latency_ms.p99 != null) p99 = Math.max(p99 ?? 0, p.latency_ms.p99);
    if (p.latency_ms.p50 != null && p.attempts > 0) p50s.push({ value: p.latency_ms.p50, weight: p.attempts });
  }
  p50s.sort((a, b) => a.value - b.value);
  let p50: number | null = null;
  const half = p50s.reduce((s, x) => s + x.weight, 0) / 2;
  let acc = 0;
  for (const x of p50s) {
    acc += x.weight;
    if (acc >= half) { p50 = x.value; break; }
  }
  const ended = succeeded + failed;
  return { events, succeeded, failed, attempts, successRate: ended ? succeeded / ended : null, p50, p99 };
}
