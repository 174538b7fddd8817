import type { Metadata } from "next";
import Link from "next/link";
import { get, qs } from "@/lib/api";
import { requireSession } from "@/lib/session";
import { WINDOWS, eventsPerMinute, parseWindow, successRates, summarize } from "@/lib/stats";
import { formatCount, formatPercent } from "@/lib/format";
import type { Delivery, Endpoint, Page, Stats } from "@/lib/types";
import { Chart } from "@/components/Chart";
import { AutoRefresh } from "@/components/AutoRefresh";
import { LocalTime } from "@/components/LocalTime";
import { ProblemPanel } from "@/components/Problem";
import { ScopeNeeded } from "@/components/ScopeNeeded";

export const metadata: Metadata = { title: "Overview" };

/** At most this many endpoints get their own statistics row (one request each). */
const ENDPOINT_ROWS = 20;

export default async function Overview({ searchParams }: { searchParams: Promise<Record<string, string | undefined>> }) {
  const session = await requireSession();
  if (!session.read) return <ScopeNeeded scope="read" operator={session.operator} />;
  const window = parseWindow((await searchParams).window);
  const w = WINDOWS[window];
  // Aligned to the minute so that refreshes within a minute ask the same thing.
  const until = new Date(Math.ceil(Date.now() / 60_000) * 60_000);
  const since = new Date(until.getTime() - w.ms);
  const range = { bucket: w.bucket, since: since.toISOString(), until: until.toISOString() };
  const [stats, endpoints] = await Promise.all([get<Stats>(`/v1/stats${qs(range)}`), get<Page<Endpoint>>("/v1/endpoints?limit=100")]);
  if (!stats.ok) return <ProblemPanel problem={stats.problem} what="load the statistics" />;
  const eps = endpoints.ok ? endpoints.data.data : [];
  const failing = eps.filter((e) => e.failing_since || !e.enabled);
  const [perEndpoint, lastFailures] = await Promise.all([
    Promise.all(eps.slice(0, ENDPOINT_ROWS).map((e) => get<Stats>(`/v1/stats${qs({ ...range, endpoint_id: e.id })}`))),
    Promise.all(failing.map((e) => get<Page<Delivery>>(`/v1/deliveries${qs({ endpoint_id: e.id, limit: 1 })}`))),
  ]);
  const series = stats.data.series;
  const times = series.map((p) => p.start);
  const total = summarize(series);
  const epm = eventsPerMinute(series, stats.data.bucket);
  const latencyMax = Math.max(1, ...series.map((p) => p.latency_ms.p99 ?? 0));
  return (
    <>
      <div className="spread">
        <h1>Overview</h1>
        <div className="row">
          <AutoRefresh ms={w.refreshMs} label={`Refreshes every ${w.refreshMs / 1000} s`} />
          <nav aria-label="Window" className="row">
            {(Object.keys(WINDOWS) as (keyof typeof WINDOWS)[]).map((k) => (
              <Link key={k} className={`btn small${k === window ? " primary" : ""}`} href={`/?window=${k}`} aria-current={k === window ? "page" : undefined}>
                {WINDOWS[k].label}
              </Link>
            ))}
          </nav>
        </div>
      </div>

      {failing.length ? (
        <section aria-labelledby="failing" className="panel problem">
          <h2 id="failing">Failing now</h2>
          <div className="table-wrap">
            <table>
              <thead>
                <tr><th scope="col">Endpoint</th><th scope="col">State</th><th scope="col">Failing since</th><th scope="col">Last error</th></tr>
              </thead>
              <tbody>
                {failing.map((e, i) => {
                  const last = lastFailures[i];
                  const d = last?.ok ? last.data.data[0] : undefined;
                  return (
                    <tr key={e.id}>
                      <td className="break"><Link href={`/endpoints/${e.id}`}>{e.url}</Link></td>
                      <td>{e.enabled ? <span className="badge badge-bad">Failing</span> : <span className="badge badge-off">Disabled</span>}{e.disabled_reason ? <div className="small muted">{e.disabled_reason}</div> : null}</td>
                      <td>{e.failing_since ? <LocalTime iso={e.failing_since} /> : "—"}</td>
                      <td className="break small">{d ? [d.last_status_code ? `HTTP ${d.last_status_code}` : null, d.last_error].filter(Boolean).join(" · ") || "—" : "—"}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}

      <section aria-label="Totals" className="cards">
        <div className="card"><div className="label">Events</div><div className="value">{formatCount(total.events)}</div></div>
        <div className="card"><div className="label">Delivery success</div><div className="value">{formatPercent(total.successRate)}</div></div>
        <div className="card"><div className="label">Dead-lettered</div><div className="value">{formatCount(total.failed)}</div></div>
        <div className="card"><div className="label">Latency p50 / p99</div><div className="value">{total.p50 ?? "—"} / {total.p99 ?? "—"} <span className="small">ms</span></div></div>
      </section>

      <section aria-label="Charts" className="grid2">
        <Chart title="Events per minute" kind="bars" times={times} series={[{ name: "events/min", values: epm, className: "s1" }]}
          format={(v) => (v >= 1000 ? `${(v / 1000).toFixed(1)}k` : v % 1 ? v.toFixed(1) : `${v}`)}
          summary={`${formatCount(total.events)} events in the ${w.label.toLowerCase()}, at most ${Math.round(Math.max(0, ...epm))} per minute.`} />
        <Chart title="Delivery success rate" times={times} max={1} series={[{ name: "success", values: successRates(series), className: "s2" }]}
          format={(v) => `${Math.round(v * 100)}%`} summary={`${formatPercent(total.successRate)} of ${formatCount(total.succeeded + total.failed)} finished deliveries succeeded.`} />
        <Chart title="Attempt latency" times={times} unit=" ms" max={latencyMax <= 1 ? 1 : undefined}
          series={[{ name: "p50", values: series.map((p) => p.latency_ms.p50 ?? null), className: "s1" }, { name: "p99", values: series.map((p) => p.latency_ms.p99 ?? null), className: "s3" }]}
          summary={`Median attempt took ${total.p50 ?? "no"} ms, the slowest percent up to ${total.p99 ?? "no"} ms.`} />
      </section>

      <section aria-labelledby="per-endpoint">
        <h2 id="per-endpoint">Per endpoint</h2>
        {eps.length === 0 ? (
          <div className="panel empty">No endpoints yet. <Link href="/endpoints/new">Create one</Link> to start delivering events.</div>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr><th scope="col">Endpoint</th><th scope="col" className="num hide-phone">Attempts</th><th scope="col" className="num hide-phone">Succeeded</th><th scope="col" className="num">Dead-lettered</th><th scope="col" className="num">Success</th><th scope="col" className="num hide-phone">p50</th><th scope="col" className="num">p99</th></tr>
              </thead>
              <tbody>
                {eps.slice(0, ENDPOINT_ROWS).map((e, i) => {
                  const s = perEndpoint[i]?.ok ? summarize(perEndpoint[i].data.series) : null;
                  return (
                    <tr key={e.id}>
                      <td className="break"><Link href={`/endpoints/${e.id}`}>{e.url}</Link></td>
                      <td className="num hide-phone">{s ? formatCount(s.attempts) : "—"}</td>
                      <td className="num hide-phone">{s ? formatCount(s.succeeded) : "—"}</td>
                      <td className="num">{s ? formatCount(s.failed) : "—"}</td>
                      <td className="num">{s ? formatPercent(s.successRate) : "—"}</td>
                      <td className="num hide-phone">{s?.p50 != null ? `${s.p50} ms` : "—"}</td>
                      <td className="num">{s?.p99 != null ? `${s.p99} ms` : "—"}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        <p className="muted small">Latency is per bucket from histogram bounds: p50 is the attempt-weighted median of the buckets, p99 the worst bucket&apos;s.</p>
      </section>
    </>
  );
}
