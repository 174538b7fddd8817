import "server-only";
import type { Problem } from "./types";
import { getSession } from "./session";

/** Where the query API answers; only the server talks to it. */
export function queryUrl(): string {
  return (process.env.EVENTFLOW_QUERY_URL ?? "http://127.0.0.1:8081").replace(/\/+$/, "");
}

export type ApiResult<T> = { ok: true; status: number; data: T } | { ok: false; status: number; problem: Problem };

/** Calls the query API with an explicit credential. */
export async function callApi<T>(key: string, method: string, path: string, body?: unknown): Promise<ApiResult<T>> {
  let response: Response;
  try {
    response = await fetch(queryUrl() + path, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        accept: "application/json",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    return {
      ok: false,
      status: 503,
      problem: { status: 503, title: "Query API unreachable", detail: `The dashboard could not reach the query API at ${queryUrl()} (${(error as Error).message}). Check that it runs and that EVENTFLOW_QUERY_URL points at it.` },
    };
  }
  const text = await response.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (response.ok) return { ok: true, status: response.status, data: json as T };
  const problem: Problem =
    json && typeof json === "object" ? { status: response.status, ...(json as object) } : { status: response.status, title: response.statusText, detail: text.slice(0, 300) };
  return { ok: false, status: response.status, problem };
}

/** Calls the query API as the signed-in user. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<ApiResult<T>> {
  const session = await getSession();
  if (!session) return { ok: false, status: 401, problem: { status: 401, title: "Signed out", detail: "Sign in again." } };
  return callApi<T>(session.key, method, path, body);
}

export const get = <T>(path: string) => api<T>("GET", path);

/** Builds `?a=1&b=2`, leaving out empty values. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") sp.set(k, String(v));
  const s = sp.toString();
  return s ? `?${s}` : "";
}

/**
 * Finds out what a credential may do: the operator token lists keys only with a
 * project (422 naming project_id), an admin key lists its own (200), other keys get 403, a wrong one 401.
 */
export async function probeCredential(key: string): Promise<{ valid: false; reason: string } | { valid: true; operator: boolean; admin: boolean; read: boolean }> {
  const admin = await callApi<unknown>(key, "GET", "/v1/api-keys?limit=1");
  if (admin.status === 401) return { valid: false, reason: "invalid" };
  if (admin.status === 503) return { valid: false, reason: "unreachable" };
  const operator = !admin.ok && admin.status === 422 && admin.problem.errors?.some((e) => e.field === "project_id") === true;
  if (operator) return { valid: true, operator: true, admin: true, read: false };
  const read = await callApi<unknown>(key, "GET", "/v1/endpoints?limit=1");
  if (read.status === 401) return { valid: false, reason: "invalid" };
  return { valid: true, operator: false, admin: admin.ok, read: read.ok };
}
