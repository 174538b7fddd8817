import type { Metadata } from "next";
import Link from "next/link";
import { get, qs } from "@/lib/api";
import { requireSession } from "@/lib/session";
import { summarize } from "@/lib/stats";
import { formatPercent } from "@/lib/format";
import type { Endpoint, Page, Stats } from "@/lib/types";
import { EndpointHealth } from "@/components/EndpointHealth";
import { LocalTime } from "@/components/LocalTime";
import { ProblemPanel } from "@/components/Problem";
import { ScopeNeeded } from "@/components/ScopeNeeded";

export const metadata: Metadata = { title: "Endpoints" };

export default async function Endpoints({ searchParams }: { searchParams: Promise<Record<string, string | undefined>> }) {
  const session = await requireSession();
  if (session.operator || !session.read) return <ScopeNeeded scope="read" operator={session.operator} />;
  const sp = await searchParams;
  const result = await get<Page<Endpoint>>(`/v1/endpoints${qs({ limit: 100, cursor: sp.cursor })}`);
  if (!result.ok) return <ProblemPanel problem={result.problem} what="list the endpoints" />;
  const eps = result.data.data;
  const since = new Date(Date.now() - 86_400_000).toISOString();
  const stats = await Promise.all(eps.slice(0, 50).map((e) => get<Stats>(`/v1/stats${qs({ bucket: "hour", since, endpoint_id: e.id })}`)));
  return (
    <>
      <div className="spread">
        <h1>Endpoints</h1>
        {session.admin ? <Link className="btn primary" href="/endpoints/new">New endpoint</Link> : null}
      </div>
      {sp.deleted ? <div className="panel notice" role="status">Endpoint deleted.</div> : null}
      {eps.length === 0 ? (
        <div className="panel empty">
          No endpoints yet. {session.admin ? <><Link href="/endpoints/new">Create one</Link> to receive events as signed webhooks.</> : "Ask an admin of your project to create one."}
        </div>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Endpoints with their health over the last 24 hours</caption>
            <thead>
              <tr><th scope="col">URL</th><th scope="col">Health</th><th scope="col" className="num">Success (24 h)</th><th scope="col" className="hide-phone">Event types</th><th scope="col" className="hide-phone">Last success</th></tr>
            </thead>
            <tbody>
              {eps.map((e, i) => {
                const s = stats[i]?.ok ? summarize(stats[i].data.series) : null;
                return (
                  <tr key={e.id}>
                    <td className="break"><Link href={`/endpoints/${e.id}`}>{e.url}</Link>{e.description ? <div className="small muted">{e.description}</div> : null}</td>
                    <td><EndpointHealth e={e} />{e.disabled_reason ? <div className="small muted">{e.disabled_reason}</div> : null}</td>
                    <td className="num">{s ? formatPercent(s.successRate) : "—"}</td>
                    <td className="hide-phone mono small break">{e.event_types.join(", ")}</td>
                    <td className="hide-phone">{e.last_success_at ? <LocalTime iso={e.last_success_at} /> : <span className="muted">never</span>}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {result.data.next_cursor ? <p><Link className="btn" href={`/endpoints?cursor=${encodeURIComponent(result.data.next_cursor)}`}>More endpoints →</Link></p> : null}
    </>
  );
}
