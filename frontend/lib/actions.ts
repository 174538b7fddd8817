"use server";
// Server actions: every change goes from the browser to this server, which
// calls the query API with the key from the httpOnly cookie.
import { cookies } from "next/headers";
import { redirect } from "next/navigation";
import { revalidatePath } from "next/cache";
import { api } from "./api";
import { ENDPOINT_FIELDS, errorsByField, parseHeaderLines, splitList } from "./fields";
import { localInputToRfc3339 } from "./format";
import type { ApiKey, EndpointSecret, Problem, Project } from "./types";

const str = (f: FormData, k: string) => String(f.get(k) ?? "").trim();

function problemText(p: Problem): string {
  const details = p.errors?.map((e) => `${e.field}: ${e.message}`).join("; ");
  return [p.title, p.detail, details].filter(Boolean).join(" — ") || `HTTP ${p.status}`;
}

/** Back to `path` with the API's complaint in `?error=`. */
function fail(path: string, p: Problem): never {
  const sep = path.includes("?") ? "&" : "?";
  redirect(`${path}${sep}error=${encodeURIComponent(problemText(p))}`);
}

export async function setTheme(form: FormData) {
  const theme = str(form, "theme");
  const jar = await cookies();
  if (theme === "light" || theme === "dark") jar.set("ef_theme", theme, { path: "/", sameSite: "strict", maxAge: 365 * 86400 });
  else jar.delete("ef_theme");
  revalidatePath("/", "layout");
}

// ---- endpoints -------------------------------------------------------------

export interface FormState {
  errors: Record<string, string>;
  values: Record<string, string>;
  message?: string;
}

/** Reads the endpoint form into the API's body; local parse errors are named like the API's. */
function endpointBody(form: FormData, editing: boolean): { body: Record<string, unknown>; errors: Record<string, string>; values: Record<string, string> } {
  const values: Record<string, string> = {};
  for (const f of ENDPOINT_FIELDS) values[f] = str(form, f);
  const errors: Record<string, string> = {};
  const body: Record<string, unknown> = { url: values.url };
  if (values.description || editing) body.description = values.description || null;
  const types = splitList(values.event_types);
  if (types.length || editing) body.event_types = types.length ? types : ["*"];
  if (values.payload_filter) {
    try {
      body.payload_filter = JSON.parse(values.payload_filter);
    } catch (e) {
      errors.payload_filter = `is not valid JSON: ${(e as Error).message}`;
    }
  } else if (editing) body.payload_filter = null;
  const headers = parseHeaderLines(values.headers);
  if ("error" in headers) errors.headers = headers.error;
  else if (Object.keys(headers.headers).length) body.headers = headers.headers;
  else if (editing) body.headers = null;
  for (const f of ["max_concurrency", "rate_limit_per_second"] as const) {
    if (!values[f]) {
      if (editing && f === "rate_limit_per_second") body[f] = null;
      continue;
    }
    const n = Number(values[f]);
    if (!Number.isInteger(n)) errors[f] = "must be a whole number";
    else body[f] = n;
  }
  return { body, errors, values };
}

export async function createEndpoint(_prev: FormState, form: FormData): Promise<FormState> {
  const { body, errors, values } = endpointBody(form, false);
  if (Object.keys(errors).length) return { errors, values };
  const r = await api<{ id: string; secret: string }>("POST", "/v1/endpoints", body);
  if (!r.ok) return { errors: errorsByField(r.problem.errors, ENDPOINT_FIELDS), values, message: r.problem.errors?.length ? undefined : problemText(r.problem) };
  redirect(`/endpoints/${r.data.id}?created=1&secret=show`);
}

export async function updateEndpoint(id: string, _prev: FormState, form: FormData): Promise<FormState> {
  const { body, errors, values } = endpointBody(form, true);
  // Headers show as [redacted] to keys without admin; never write that back.
  if (values.headers.includes("[redacted]")) delete body.headers;
  if (Object.keys(errors).length) return { errors, values };
  const r = await api("PATCH", `/v1/endpoints/${encodeURIComponent(id)}`, body);
  if (!r.ok) return { errors: errorsByField(r.problem.errors, ENDPOINT_FIELDS), values, message: r.problem.errors?.length ? undefined : problemText(r.problem) };
  redirect(`/endpoints/${id}?saved=1`);
}

/** enabled / paused switches. */
export async function switchEndpoint(form: FormData) {
  const id = str(form, "id");
  const field = str(form, "field");
  if (field !== "enabled" && field !== "paused") return;
  const r = await api("PATCH", `/v1/endpoints/${encodeURIComponent(id)}`, { [field]: str(form, "value") === "true" });
  if (!r.ok) fail(`/endpoints/${id}`, r.problem);
  redirect(`/endpoints/${id}?saved=1`);
}

export async function deleteEndpoint(form: FormData) {
  const id = str(form, "id");
  const r = await api("DELETE", `/v1/endpoints/${encodeURIComponent(id)}`);
  if (!r.ok) fail(`/endpoints/${id}`, r.problem);
  redirect(`/endpoints?deleted=1`);
}

export async function rotateSecret(form: FormData) {
  const id = str(form, "id");
  const hours = Number(str(form, "grace_hours") || "24");
  const r = await api<EndpointSecret>("POST", `/v1/endpoints/${encodeURIComponent(id)}/secret/rotate`, {
    grace_period_seconds: Number.isFinite(hours) ? Math.round(hours * 3600) : undefined,
  });
  if (!r.ok) fail(`/endpoints/${id}`, r.problem);
  redirect(`/endpoints/${id}?secret=show&rotated=1`);
}

export async function testSend(form: FormData) {
  const id = str(form, "id");
  const r = await api<{ event_id: string }>("POST", `/v1/endpoints/${encodeURIComponent(id)}/test`);
  if (!r.ok) fail(`/endpoints/${id}`, r.problem);
  redirect(`/events/${r.data.event_id}?test=1`);
}

export async function recoverEndpoint(form: FormData) {
  const id = str(form, "id");
  const since = localInputToRfc3339(str(form, "since"), Number(str(form, "tz") || "0"));
  if (!since) fail(`/endpoints/${id}`, { status: 422, title: "Choose a time to recover from" });
  const r = await api<{ scheduled: number }>("POST", `/v1/endpoints/${encodeURIComponent(id)}/recover`, { since });
  if (!r.ok) fail(`/endpoints/${id}`, r.problem);
  redirect(`/endpoints/${id}?recovered=${r.data.scheduled}`);
}

// ---- events ----------------------------------------------------------------

export async function replayEvent(form: FormData) {
  const id = str(form, "id");
  const mode = str(form, "mode");
  const endpoint_ids = mode === "chosen" ? form.getAll("endpoint_ids").map(String) : [];
  if (mode === "chosen" && endpoint_ids.length === 0) fail(`/events/${id}`, { status: 422, title: "Choose at least one endpoint to replay to" });
  const r = await api<{ scheduled: number }>("POST", `/v1/events/${encodeURIComponent(id)}/replay`, endpoint_ids.length ? { endpoint_ids } : undefined);
  if (!r.ok) fail(`/events/${id}`, r.problem);
  redirect(`/events/${id}?replayed=${r.data.scheduled}`);
}

export async function retryDelivery(form: FormData) {
  const eventId = str(form, "event_id");
  const r = await api("POST", `/v1/deliveries/${encodeURIComponent(str(form, "id"))}/retry`);
  if (!r.ok) fail(`/events/${eventId}`, r.problem);
  redirect(`/events/${eventId}?replayed=1`);
}

// ---- admin -----------------------------------------------------------------

const PROJECT_FIELDS = ["name", "rate_limit_per_second", "rate_limit_burst", "retention_days"] as const;

function projectBody(form: FormData, editing: boolean) {
  const values: Record<string, string> = {};
  const errors: Record<string, string> = {};
  const body: Record<string, unknown> = {};
  for (const f of PROJECT_FIELDS) values[f] = str(form, f);
  if (values.name) body.name = values.name;
  for (const f of ["rate_limit_per_second", "rate_limit_burst", "retention_days"] as const) {
    if (!values[f]) continue;
    const n = Number(values[f]);
    if (!Number.isInteger(n)) errors[f] = "must be a whole number";
    else body[f] = n;
  }
  if (!editing && !values.name) errors.name = "must not be empty";
  return { body, errors, values };
}

export async function createProject(_prev: FormState, form: FormData): Promise<FormState> {
  const { body, errors, values } = projectBody(form, false);
  if (Object.keys(errors).length) return { errors, values };
  const r = await api<Project>("POST", "/v1/projects", body);
  if (!r.ok) return { errors: errorsByField(r.problem.errors, PROJECT_FIELDS), values, message: r.problem.errors?.length ? undefined : problemText(r.problem) };
  redirect(`/admin?project=${r.data.id}&created=1`);
}

export async function updateProject(id: string, _prev: FormState, form: FormData): Promise<FormState> {
  const { body, errors, values } = projectBody(form, true);
  if (Object.keys(errors).length) return { errors, values };
  const r = await api<Project>("PATCH", `/v1/projects/${encodeURIComponent(id)}`, body);
  if (!r.ok) return { errors: errorsByField(r.problem.errors, PROJECT_FIELDS), values, message: r.problem.errors?.length ? undefined : problemText(r.problem) };
  revalidatePath("/admin");
  return { errors: {}, values, message: "Saved." };
}

export interface KeyState extends FormState {
  created?: { key: string; id: string; name: string };
}

export async function createKey(_prev: KeyState, form: FormData): Promise<KeyState> {
  const values = { name: str(form, "name"), project_id: str(form, "project_id") };
  const scopes = form.getAll("scopes").map(String);
  const body: Record<string, unknown> = { name: values.name || undefined, scopes };
  if (values.project_id) body.project_id = values.project_id;
  const expires = str(form, "expires_at");
  if (expires) {
    const at = localInputToRfc3339(expires, Number(str(form, "tz") || "0"));
    if (!at) return { errors: { expires_at: "must be a date and time" }, values };
    body.expires_at = at;
  }
  // The created key is the key object with its plaintext alongside (flattened).
  const r = await api<ApiKey & { key: string }>("POST", "/v1/api-keys", body);
  if (!r.ok) return { errors: errorsByField(r.problem.errors, ["name", "scopes", "project_id", "expires_at"]), values, message: r.problem.errors?.length ? undefined : problemText(r.problem) };
  revalidatePath("/admin");
  return { errors: {}, values: {}, created: { key: r.data.key, id: r.data.id, name: r.data.name } };
}

export async function revokeKey(form: FormData) {
  const id = str(form, "id");
  const project = str(form, "project");
  const r = await api("DELETE", `/v1/api-keys/${encodeURIComponent(id)}`);
  const back = `/admin?project=${encodeURIComponent(project)}`;
  if (!r.ok) fail(back, r.problem);
  redirect(`${back}&revoked=${encodeURIComponent(id)}`);
}
