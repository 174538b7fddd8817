import type { Metadata } from "next";
import Link from "next/link";
import { get, qs } from "@/lib/api";
import { requireSession } from "@/lib/session";
import { formatDuration, formatRelative } from "@/lib/format";
import { replayEvent, retryDelivery } from "@/lib/actions";
import type { Attempt, Delivery, Endpoint, EventDetail, Page } from "@/lib/types";
import { AutoRefresh } from "@/components/AutoRefresh";
import { CopyButton } from "@/components/CopyButton";
import { JsonView } from "@/components/JsonView";
import { LocalTime } from "@/components/LocalTime";
import { ProblemPanel } from "@/components/Problem";
import { ScopeNeeded } from "@/components/ScopeNeeded";
import { StatusBadge } from "@/components/StatusBadge";

export const metadata: Metadata = { title: "Event" };

/** The event's deliveries: inline in the event, or (newer APIs) a page of their own. */
async function deliveriesOf(event: EventDetail): Promise<Delivery[]> {
  if (Array.isArray(event.deliveries)) return event.deliveries;
  const r = await get<Page<Delivery>>(`/v1/events/${event.id}/deliveries?limit=100`);
  return r.ok ? r.data.data : [];
}

export default async function EventPage({ params, searchParams }: { params: Promise<{ id: string }>; searchParams: Promise<Record<string, string | undefined>> }) {
  const session = await requireSession();
  if (!session.read) return <ScopeNeeded scope="read" operator={session.operator} />;
  const { id } = await params;
  const sp = await searchParams;
  const [result, endpointsResult] = await Promise.all([get<EventDetail>(`/v1/events/${encodeURIComponent(id)}`), get<Page<Endpoint>>("/v1/endpoints?limit=100")]);
  if (!result.ok) {
    return (
      <>
        <p><Link href="/events">← Events</Link></p>
        <ProblemPanel problem={result.problem} what="load this event" />
      </>
    );
  }
  const event = result.data;
  const deliveries = await deliveriesOf(event);
  const attempts = await Promise.all(deliveries.map((d) => get<Page<Attempt>>(`/v1/deliveries/${d.id}/attempts${qs({ limit: 100 })}`)));
  const endpoints = new Map((endpointsResult.ok ? endpointsResult.data.data : []).map((e) => [e.id, e]));
  const payloadText = JSON.stringify(event.payload, null, 2);
  // Keep refreshing while anything may still change: pending deliveries, a
  // replay just asked for, or an event so new that its fan-out may not be done.
  // One clock reading per render: this is a server component, so the relative
  // texts below are fixed in the RSC payload the browser hydrates from; only
  // <LocalTime> (a client component) formats in the viewer's zone, after mount.
  const now = Date.now();
  const fresh = now - new Date(event.received_at).getTime() < 30_000;
  const busy = fresh || deliveries.some((d) => d.status === "pending") || !!sp.replayed || !!sp.test;
  return (
    <>
      <p><Link href="/events">← Events</Link></p>
      <div className="spread">
        <h1 className="break">{event.type}</h1>
        {busy ? <AutoRefresh ms={2000} label="Updating while deliveries are in progress" /> : null}
      </div>
      {sp.error ? <div className="panel problem" role="alert">{sp.error}</div> : null}
      {sp.replayed ? <div className="panel notice" role="status">Replay scheduled: {sp.replayed} deliver{sp.replayed === "1" ? "y" : "ies"}. The new attempts appear below as they happen.</div> : null}
      {sp.test ? <div className="panel notice" role="status">Test event sent. Its delivery appears below.</div> : null}
      <section className="panel">
        <dl className="facts">
          <dt>Event id</dt><dd><span className="mono">{event.id}</span> <CopyButton text={event.id} label="Copy id" /></dd>
          <dt>Received</dt><dd><LocalTime iso={event.received_at} /></dd>
          <dt>Occurred</dt><dd><LocalTime iso={event.occurred_at} /></dd>
        </dl>
      </section>

      <section aria-labelledby="payload-h">
        <div className="spread">
          <h2 id="payload-h">Payload</h2>
          <CopyButton text={payloadText} label="Copy JSON" />
        </div>
        <JsonView value={event.payload} />
      </section>

      <section aria-labelledby="deliveries-h">
        <h2 id="deliveries-h">Deliveries</h2>
        {deliveries.length === 0 ? (
          <div className="panel empty">No endpoint was subscribed to <code>{event.type}</code> when it arrived. <Link href="/endpoints/new">Create an endpoint</Link> for it, then replay below.</div>
        ) : (
          deliveries.map((d, i) => {
            const ep = endpoints.get(d.endpoint_id);
            const list = attempts[i]?.ok ? [...attempts[i].data.data].sort((a, b) => a.started_at.localeCompare(b.started_at)) : [];
            return (
              <article key={d.id} className="panel" aria-labelledby={`dl-${d.id}`} data-testid="delivery">
                <div className="spread">
                  <h3 id={`dl-${d.id}`} className="break">
                    {ep ? <Link href={`/endpoints/${ep.id}`}>{ep.url}</Link> : <span className="mono">{d.endpoint_id}</span>}
                  </h3>
                  <div className="row">
                    <StatusBadge status={d.status} attempts={d.attempt_count} />
                    <span className="muted small">{d.attempt_count} attempt{d.attempt_count === 1 ? "" : "s"}</span>
                    {session.admin && d.status !== "succeeded" ? (
                      <form action={retryDelivery} className="inline">
                        <input type="hidden" name="id" value={d.id} />
                        <input type="hidden" name="event_id" value={event.id} />
                        <button className="btn small" type="submit">Retry now</button>
                      </form>
                    ) : null}
                  </div>
                </div>
                <h4 className="sr-only">Attempts</h4>
                <ol className="timeline" aria-label={`Attempts to ${ep?.url ?? d.endpoint_id}`}>
                  {list.map((a) => {
                    const ok = a.status_code != null && a.status_code >= 200 && a.status_code < 300;
                    return (
                      <li key={a.id} className={ok ? "ok" : "bad"} data-testid="attempt">
                        <div className="row">
                          <strong>#{a.attempt_number}</strong>
                          <LocalTime iso={a.started_at} />
                          <span className={`badge ${ok ? "badge-ok" : "badge-bad"}`}>{a.status_code != null ? `HTTP ${a.status_code}` : a.error_kind ?? "no response"}</span>
                          <span className="muted small tabular">{formatDuration(a.duration_ms)}</span>
                        </div>
                        {a.error_kind && a.status_code != null && a.error_kind !== "http_status" ? <div className="small">Error: {a.error_kind}</div> : null}
                        {a.response_body ? <pre aria-label="Response body (start)">{a.response_body}</pre> : null}
                      </li>
                    );
                  })}
                  {d.status === "pending" && d.next_attempt_at ? (
                    <li className="next">
                      Next retry <LocalTime iso={d.next_attempt_at} /> <span className="muted small">({formatRelative(d.next_attempt_at, now)})</span>
                    </li>
                  ) : null}
                  {list.length === 0 && d.status === "pending" && !d.next_attempt_at ? <li className="next">Waiting for the first attempt…</li> : null}
                  {d.status === "failed" ? <li className="bad">Dead-lettered after the last retry{d.last_error ? `: ${d.last_error}` : ""}. Replay it when the receiver is fixed.</li> : null}
                  {d.status === "refused" ? <li className="bad">Refused: {d.last_error ?? "the destination is not allowed"}.</li> : null}
                </ol>
                <details>
                  <summary>Headers the receiver got</summary>
                  <table className="small">
                    <caption className="sr-only">Request headers of each attempt</caption>
                    <tbody>
                      <tr><th scope="row">content-type</th><td className="mono">application/json</td></tr>
                      <tr><th scope="row">webhook-id</th><td className="mono">{event.id}</td></tr>
                      <tr><th scope="row">webhook-timestamp</th><td className="mono">Unix seconds of each attempt{list.length ? ` (last: ${Math.floor(new Date(list[list.length - 1].started_at).getTime() / 1000)})` : ""}</td></tr>
                      <tr><th scope="row">webhook-signature</th><td className="mono">v1,&lt;HMAC-SHA256 with the endpoint&apos;s secret&gt;</td></tr>
                      {Object.entries(ep?.headers ?? {}).map(([k, v]) => (
                        <tr key={k}><th scope="row">{k}</th><td className="mono break">{v}</td></tr>
                      ))}
                    </tbody>
                  </table>
                </details>
              </article>
            );
          })
        )}
      </section>

      <section aria-labelledby="replay-h" className="panel">
        <h2 id="replay-h">Replay</h2>
        {session.admin ? (
          <form action={replayEvent}>
            <input type="hidden" name="id" value={event.id} />
            <fieldset>
              <legend>Send this event again to</legend>
              <label className="check"><input type="radio" name="mode" value="all" defaultChecked /> Every endpoint subscribed to <code>{event.type}</code></label>
              <label className="check"><input type="radio" name="mode" value="chosen" /> Only the endpoints checked below</label>
              {[...endpoints.values()].map((e) => (
                <label key={e.id} className="check break" style={{ marginLeft: 24 }}>
                  <input type="checkbox" name="endpoint_ids" value={e.id} /> {e.url}
                </label>
              ))}
            </fieldset>
            <button className="btn primary" type="submit">Replay</button>
            <p className="hint">Receivers see the same <code>webhook-id</code>, so they can tell a replay from a new event.</p>
          </form>
        ) : (
          <p className="muted">Replaying needs a key with the admin scope.</p>
        )}
      </section>
    </>
  );
}
