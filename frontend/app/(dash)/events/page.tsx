import type { Metadata } from "next";
import Link from "next/link";
import { get, qs } from "@/lib/api";
import { requireSession } from "@/lib/session";
import { apiParams, explorerHref, pageLinks, readExplorer } from "@/lib/explorer";
import type { EventSummary, Page } from "@/lib/types";
import { AutoRefresh } from "@/components/AutoRefresh";
import { LocalTime } from "@/components/LocalTime";
import { ProblemPanel } from "@/components/Problem";
import { ScopeNeeded } from "@/components/ScopeNeeded";
import { TzInput } from "@/components/TzInput";

export const metadata: Metadata = { title: "Events" };

const PAGE_SIZE = 50;

export default async function Events({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const session = await requireSession();
  if (!session.read) return <ScopeNeeded scope="read" operator={session.operator} />;
  const s = readExplorer(await searchParams);
  const result = await get<Page<EventSummary>>(`/v1/events${qs(apiParams(s, PAGE_SIZE))}`);
  const filtered = !!(s.type || s.status || s.endpoint || s.since || s.until);
  const links = result.ok ? pageLinks(s, result.data.next_cursor) : { older: null, newer: null };
  return (
    <>
      <div className="spread">
        <h1>Events</h1>
        <div className="row">
          {s.live && !s.cursor ? <AutoRefresh ms={3000} label="Live: new events appear as they arrive" /> : null}
          <Link className={`btn small${s.live ? " primary" : ""}`} href={explorerHref(s, { live: !s.live, cursor: "", trail: [] })}>
            {s.live ? "Stop live" : "Go live"}
          </Link>
        </div>
      </div>
      <form className="filters panel" method="get" action="/events" role="search" aria-label="Filter events">
        <div>
          <label htmlFor="f-type">Type</label>
          <input id="f-type" name="type" type="text" defaultValue={s.type} placeholder="order.* or order.created" aria-describedby="f-type-hint" />
          <p id="f-type-hint" className="hint">Exact, <code>prefix.*</code> or <code>*</code></p>
        </div>
        <div>
          <label htmlFor="f-status">Delivery status</label>
          <select id="f-status" name="status" defaultValue={s.status}>
            <option value="">Any</option>
            <option value="pending">Pending / retrying</option>
            <option value="succeeded">Succeeded</option>
            <option value="failed">Failed (dead-lettered)</option>
            <option value="refused">Refused</option>
          </select>
        </div>
        <div>
          <label htmlFor="f-since">Received from</label>
          <input id="f-since" name="since" type="datetime-local" step="1" defaultValue={s.since} />
        </div>
        <div>
          <label htmlFor="f-until">Received before</label>
          <input id="f-until" name="until" type="datetime-local" step="1" defaultValue={s.until} />
        </div>
        <TzInput initial={s.tz} />
        {s.live ? <input type="hidden" name="live" value="1" /> : null}
        {s.endpoint ? (
          <div>
            <input type="hidden" name="endpoint" value={s.endpoint} />
            <span className="small">Endpoint <code>{s.endpoint}</code> only</span>
          </div>
        ) : null}
        <div className="row">
          <button className="btn primary" type="submit">Apply</button>
          {filtered ? <Link className="btn" href="/events">Clear</Link> : null}
        </div>
      </form>

      {!result.ok ? (
        <ProblemPanel problem={result.problem} what="search the events" />
      ) : result.data.data.length === 0 ? (
        <div className="panel empty" role="status">
          {filtered ? (
            <>No events match these filters. <Link href="/events">Clear the filters</Link> or widen the time range.</>
          ) : s.cursor ? (
            <>No older events. <Link href="/events">Back to the newest</Link>.</>
          ) : (
            <>No events yet. Send one to the gateway (<code>POST /v1/events</code> with a key that has the ingest scope), or send a test event from an <Link href="/endpoints">endpoint</Link>.</>
          )}
        </div>
      ) : (
        <>
          <div className="table-wrap">
            <table data-testid="events-table">
              <caption className="sr-only">Events, newest first{s.cursor ? `, page ${s.trail.length + 1}` : ""}</caption>
              <thead>
                <tr>
                  <th scope="col">Received</th>
                  <th scope="col">Type</th>
                  <th scope="col" className="hide-phone">Event id</th>
                  <th scope="col" className="hide-phone">Occurred</th>
                </tr>
              </thead>
              <tbody>
                {result.data.data.map((e) => (
                  <tr key={e.id}>
                    <td><LocalTime iso={e.received_at} /></td>
                    {/* No prefetch: fifty detail renders per page view would cost more than they save. */}
                    <td className="break"><Link href={`/events/${e.id}`} prefetch={false}>{e.type}</Link></td>
                    <td className="hide-phone mono small">{e.id}</td>
                    <td className="hide-phone"><LocalTime iso={e.occurred_at} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="Pages">
            {links.newer ? <Link className="btn" href={links.newer} rel="prev">← Newer</Link> : <span />}
            <span className="muted small">Page {s.trail.length + 1}</span>
            {links.older ? <Link className="btn" href={links.older} rel="next">Older →</Link> : <span />}
          </nav>
        </>
      )}
    </>
  );
}
