import type { Metadata } from "next";
import Link from "next/link";
import { get, qs } from "@/lib/api";
import { requireSession } from "@/lib/session";
import { createKey, createProject, revokeKey, updateProject } from "@/lib/actions";
import type { ApiKey, Page, Project } from "@/lib/types";
import { KeyForm, ProjectForm } from "@/components/AdminForms";
import { LocalTime } from "@/components/LocalTime";
import { ProblemPanel } from "@/components/Problem";
import { ScopeNeeded } from "@/components/ScopeNeeded";

export const metadata: Metadata = { title: "Admin" };

const scopesText = (s: ApiKey["scopes"]) => (Array.isArray(s) ? s.join(", ") : s);

export default async function Admin({ searchParams }: { searchParams: Promise<Record<string, string | undefined>> }) {
  const session = await requireSession();
  if (!session.admin) return <ScopeNeeded scope="admin" />;
  const sp = await searchParams;
  const projects = await get<{ data: Project[] }>("/v1/projects");
  if (!projects.ok) return <ProblemPanel problem={projects.problem} what="list the projects" />;
  const list = projects.data.data;
  const chosen = list.find((p) => p.id === sp.project) ?? (session.operator ? undefined : list[0]);
  const keys = chosen ? await get<Page<ApiKey>>(`/v1/api-keys${qs({ project_id: chosen.id, limit: 200 })}`) : null;
  return (
    <>
      <h1>Admin</h1>
      {sp.error ? <div className="panel problem" role="alert">{sp.error}</div> : null}
      {sp.revoked ? <div className="panel notice" role="status">Key {sp.revoked} revoked; it stops working within seconds.</div> : null}
      {sp.created ? <div className="panel notice" role="status">Project created. Create its first API key below.</div> : null}
      <section aria-labelledby="projects-h">
        <h2 id="projects-h">Projects</h2>
        <div className="table-wrap">
          <table>
            <thead>
              <tr><th scope="col">Name</th><th scope="col" className="hide-phone">Id</th><th scope="col" className="num">Rate limit</th><th scope="col" className="num">Retention</th><th scope="col" className="hide-phone">Created</th></tr>
            </thead>
            <tbody>
              {list.map((p) => (
                <tr key={p.id}>
                  <td><Link href={`/admin?project=${p.id}`} aria-current={p.id === chosen?.id ? "true" : undefined}>{p.name}</Link></td>
                  <td className="hide-phone mono small">{p.id}</td>
                  <td className="num">{p.rate_limit_per_second ?? "default"}{p.rate_limit_burst ? ` (burst ${p.rate_limit_burst})` : ""}</td>
                  <td className="num">{p.retention_days} d</td>
                  <td className="hide-phone"><LocalTime iso={p.created_at} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {session.operator ? (
          <details className="panel">
            <summary>Create a project</summary>
            <ProjectForm idPrefix="new-" action={createProject} submitLabel="Create project" initial={{ name: "", rate_limit_per_second: "", rate_limit_burst: "", retention_days: "" }} />
          </details>
        ) : null}
      </section>

      {chosen ? (
        <>
          <section className="panel" aria-labelledby="project-h">
            <h2 id="project-h">Project {chosen.name}</h2>
            {!session.operator ? <p className="hint">Rate limit and retention can be changed with the operator token only.</p> : null}
            <ProjectForm
              idPrefix="prj-"
              action={updateProject.bind(null, chosen.id)}
              submitLabel="Save project"
              initial={{ name: chosen.name, rate_limit_per_second: String(chosen.rate_limit_per_second ?? ""), rate_limit_burst: String(chosen.rate_limit_burst ?? ""), retention_days: String(chosen.retention_days) }}
            />
          </section>
          <section aria-labelledby="keys-h">
            <h2 id="keys-h">API keys of {chosen.name}</h2>
            {keys && !keys.ok ? <ProblemPanel problem={keys.problem} what="list the keys" /> : null}
            {keys && keys.ok && keys.data.data.length === 0 ? <div className="panel empty">No keys yet. Create one below.</div> : null}
            {keys && keys.ok && keys.data.data.length ? (
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr><th scope="col">Name</th><th scope="col">Scopes</th><th scope="col" className="hide-phone">Created</th><th scope="col">State</th><th scope="col"><span className="sr-only">Actions</span></th></tr>
                  </thead>
                  <tbody>
                    {keys.data.data.map((k) => (
                      <tr key={k.id}>
                        <td>{k.name || <span className="muted">unnamed</span>}<div className="mono small muted">{k.id}</div></td>
                        <td>{scopesText(k.scopes)}</td>
                        <td className="hide-phone"><LocalTime iso={k.created_at} /></td>
                        <td>
                          {k.revoked_at ? <span className="badge badge-off">Revoked</span> : k.expires_at && new Date(k.expires_at) < new Date() ? <span className="badge badge-off">Expired</span> : <span className="badge badge-ok">Active</span>}
                          {k.expires_at && !k.revoked_at ? <div className="small">expires <LocalTime iso={k.expires_at} /></div> : null}
                        </td>
                        <td>
                          {k.revoked_at ? null : sp.confirm === k.id ? (
                            <form action={revokeKey} className="row">
                              <input type="hidden" name="id" value={k.id} />
                              <input type="hidden" name="project" value={chosen.id} />
                              <span className="small">Revoke “{k.name || k.id}”? Clients using it start failing.</span>
                              <button className="btn small danger" type="submit">Yes, revoke</button>
                              <Link className="btn small" href={`/admin?project=${chosen.id}`}>Cancel</Link>
                            </form>
                          ) : (
                            <Link className="btn small danger" href={`/admin?project=${chosen.id}&confirm=${k.id}`} aria-label={`Revoke key ${k.name || k.id}`}>Revoke…</Link>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : null}
            <div className="panel">
              <h3>Create a key</h3>
              <KeyForm action={createKey} projectId={chosen.id} />
            </div>
          </section>
        </>
      ) : list.length ? (
        <p className="panel">Choose a project above to manage its settings and API keys.</p>
      ) : (
        <div className="panel empty">No projects yet. Create one above.</div>
      )}
    </>
  );
}
