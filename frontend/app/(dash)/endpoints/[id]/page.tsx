import type { Metadata } from "next";
import Link from "next/link";
import { get } from "@/lib/api";
import { requireSession } from "@/lib/session";
import { deleteEndpoint, recoverEndpoint, rotateSecret, switchEndpoint, testSend, updateEndpoint } from "@/lib/actions";
import type { Endpoint, EndpointSecret } from "@/lib/types";
import { CopyButton } from "@/components/CopyButton";
import { EndpointForm } from "@/components/EndpointForm";
import { EndpointHealth } from "@/components/EndpointHealth";
import { LocalTime } from "@/components/LocalTime";
import { ProblemPanel } from "@/components/Problem";
import { ScopeNeeded } from "@/components/ScopeNeeded";
import { TzInput } from "@/components/TzInput";

export const metadata: Metadata = { title: "Endpoint" };

function Switch({ id, field, value, label }: { id: string; field: string; value: boolean; label: string }) {
  return (
    <form action={switchEndpoint} className="inline">
      <input type="hidden" name="id" value={id} />
      <input type="hidden" name="field" value={field} />
      <input type="hidden" name="value" value={String(value)} />
      <button className="btn" type="submit">{label}</button>
    </form>
  );
}

export default async function EndpointPage({ params, searchParams }: { params: Promise<{ id: string }>; searchParams: Promise<Record<string, string | undefined>> }) {
  const session = await requireSession();
  if (session.operator || !session.read) return <ScopeNeeded scope="read" operator={session.operator} />;
  const { id } = await params;
  const sp = await searchParams;
  const showSecret = sp.secret === "show" && session.admin;
  const [result, secret] = await Promise.all([
    get<Endpoint>(`/v1/endpoints/${encodeURIComponent(id)}`),
    showSecret ? get<EndpointSecret>(`/v1/endpoints/${encodeURIComponent(id)}/secret`) : Promise.resolve(null),
  ]);
  if (!result.ok) {
    return (
      <>
        <p><Link href="/endpoints">← Endpoints</Link></p>
        <ProblemPanel problem={result.problem} what="load this endpoint" />
      </>
    );
  }
  const e = result.data;
  const initial = {
    url: e.url,
    description: e.description ?? "",
    event_types: e.event_types.join(", "),
    payload_filter: e.payload_filter == null ? "" : JSON.stringify(e.payload_filter),
    headers: Object.entries(e.headers ?? {}).map(([k, v]) => `${k}: ${v}`).join("\n"),
    max_concurrency: String(e.max_concurrency),
    rate_limit_per_second: e.rate_limit_per_second == null ? "" : String(e.rate_limit_per_second),
  };
  const update = updateEndpoint.bind(null, e.id);
  return (
    <>
      <p><Link href="/endpoints">← Endpoints</Link></p>
      <h1 className="break">{e.url}</h1>
      {sp.error ? <div className="panel problem" role="alert">{sp.error}</div> : null}
      {sp.created ? <div className="panel notice" role="status">Endpoint created. Its signing secret is shown below: configure your receiver with it.</div> : null}
      {sp.saved ? <div className="panel notice" role="status">Saved.</div> : null}
      {sp.rotated ? <div className="panel notice" role="status">Secret rotated. The previous secret keeps signing alongside until it expires.</div> : null}
      {sp.recovered ? <div className="panel notice" role="status">{sp.recovered} failed deliver{sp.recovered === "1" ? "y is" : "ies are"} being sent again.</div> : null}

      <section className="panel" aria-label="Status">
        <dl className="facts">
          <dt>Health</dt><dd><EndpointHealth e={e} />{e.disabled_reason ? <span className="small"> — {e.disabled_reason}</span> : null}</dd>
          <dt>Endpoint id</dt><dd className="mono">{e.id}</dd>
          <dt>Event types</dt><dd className="mono">{e.event_types.join(", ")}</dd>
          <dt>Last success</dt><dd>{e.last_success_at ? <LocalTime iso={e.last_success_at} /> : "never"}</dd>
          <dt>Created</dt><dd><LocalTime iso={e.created_at} /></dd>
        </dl>
        <div className="row">
          <Link className="btn" href={`/events?${new URLSearchParams({ endpoint: e.id, status: "failed" })}`}>Its failed events</Link>
          <Link className="btn" href={`/events?${new URLSearchParams({ endpoint: e.id })}`}>Its events</Link>
          {session.admin ? (
            <>
              <Switch id={e.id} field="enabled" value={!e.enabled} label={e.enabled ? "Disable" : "Enable"} />
              <Switch id={e.id} field="paused" value={!e.paused} label={e.paused ? "Resume deliveries" : "Pause deliveries"} />
              <form action={testSend} className="inline">
                <input type="hidden" name="id" value={e.id} />
                <button className="btn" type="submit">Send test event</button>
              </form>
            </>
          ) : null}
        </div>
      </section>

      {session.admin ? (
        <>
          <section className="panel" aria-labelledby="secret-h">
            <h2 id="secret-h">Signing secret</h2>
            {secret && secret.ok ? (
              <>
                <div className="secret" data-testid="secret">
                  <code>{secret.data.secret}</code>
                  <CopyButton text={secret.data.secret} label="Copy secret" />
                  <Link className="btn small" href={`/endpoints/${e.id}`}>Hide</Link>
                </div>
                {secret.data.previous_secret ? (
                  <p className="small">
                    The previous secret keeps signing until {secret.data.previous_secret_expires_at ? <LocalTime iso={secret.data.previous_secret_expires_at} /> : "it expires"}.
                  </p>
                ) : null}
              </>
            ) : secret && !secret.ok ? (
              <ProblemPanel problem={secret.problem} what="read the secret" />
            ) : (
              <p><Link className="btn" href={`/endpoints/${e.id}?secret=show`}>Reveal secret</Link></p>
            )}
            <form action={rotateSecret} className="row">
              <input type="hidden" name="id" value={e.id} />
              <label htmlFor="grace">Old secret keeps signing for (hours)</label>
              <input id="grace" name="grace_hours" type="number" min={0} max={168} step="any" defaultValue={24} style={{ width: 100 }} />
              <button className="btn" type="submit">Rotate secret</button>
            </form>
          </section>

          <section className="panel" aria-labelledby="recover-h">
            <h2 id="recover-h">Recover failed deliveries</h2>
            <form action={recoverEndpoint} className="row">
              <input type="hidden" name="id" value={e.id} />
              <TzInput />
              <label htmlFor="since">Dead-lettered deliveries created since</label>
              <input id="since" name="since" type="datetime-local" required style={{ width: "auto" }} />
              <button className="btn" type="submit">Send them again</button>
            </form>
          </section>

          <section aria-labelledby="edit-h">
            <h2 id="edit-h">Settings</h2>
            <EndpointForm action={update} initial={initial} submitLabel="Save changes" />
          </section>

          <section className="panel warn" aria-labelledby="delete-h">
            <h2 id="delete-h">Delete</h2>
            {sp.confirm === "delete" ? (
              <form action={deleteEndpoint} className="row">
                <input type="hidden" name="id" value={e.id} />
                <span>Delete this endpoint? Its pending deliveries end as failed.</span>
                <button className="btn danger" type="submit">Yes, delete</button>
                <Link className="btn" href={`/endpoints/${e.id}`}>Cancel</Link>
              </form>
            ) : (
              <Link className="btn danger" href={`/endpoints/${e.id}?confirm=delete`}>Delete endpoint…</Link>
            )}
          </section>
        </>
      ) : (
        <p className="muted">Changing this endpoint, its secret and its deliveries needs a key with the admin scope.</p>
      )}
    </>
  );
}
