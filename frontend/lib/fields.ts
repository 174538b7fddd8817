import type { FieldError } from "./types";

export const ENDPOINT_FIELDS = ["url", "description", "event_types", "payload_filter", "headers", "max_concurrency", "rate_limit_per_second"] as const;

/**
 * Groups the API's `errors[]` by the form field they belong to:
 * `event_types[2]` and `headers.x-team` belong to `event_types` and `headers`.
 * Messages for fields the form does not show land under `_form`.
 */
export function errorsByField(errors: FieldError[] | undefined, known: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of errors ?? []) {
    const base = e.field.split(/[.[]/)[0] || "_form";
    const key = known.includes(base) ? base : "_form";
    const text = key === base && e.field !== base ? `${e.field.slice(base.length).replace(/^\./, "")}: ${e.message}` : key === "_form" && e.field ? `${e.field}: ${e.message}` : e.message;
    out[key] = out[key] ? `${out[key]}; ${text}` : text;
  }
  return out;
}

/** Splits a textarea of `name: value` lines into a headers object; null on a malformed line. */
export function parseHeaderLines(text: string): { headers: Record<string, string> } | { error: string } {
  const headers: Record<string, string> = {};
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  for (const [i, line] of lines.entries()) {
    const at = line.indexOf(":");
    if (at <= 0) return { error: `line ${i + 1} must look like "name: value"` };
    headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return { headers };
}

/** Splits a comma or newline separated list, dropping empties. */
export function splitList(text: string): string[] {
  return text.split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
}
