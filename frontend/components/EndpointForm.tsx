"use client";
import { useActionState } from "react";
import type { FormState } from "@/lib/actions";
import { Field } from "./Field";

/** Create or edit an endpoint; the API's `errors[]` show next to their fields. */
export function EndpointForm({
  action, initial, submitLabel,
}: {
  action: (prev: FormState, form: FormData) => Promise<FormState>;
  initial: Record<string, string>;
  submitLabel: string;
}) {
  const [state, formAction, pending] = useActionState(action, { errors: {}, values: initial });
  const v = state.values;
  const e = state.errors;
  const count = Object.keys(e).length;
  return (
    <form action={formAction} className="panel" noValidate>
      {count || state.message ? (
        <div className="panel problem" role="alert">
          {state.message ?? `Please fix ${count} field${count === 1 ? "" : "s"} below.`}
          {e._form ? <div>{e._form}</div> : null}
        </div>
      ) : null}
      <Field name="url" label="URL" error={e.url} hint="Where deliveries are POSTed: an absolute http(s) URL reachable from EventFlow.">
        {(p) => <input {...p} type="url" defaultValue={v.url} required inputMode="url" key={`url-${v.url}`} />}
      </Field>
      <Field name="description" label="Description" error={e.description}>
        {(p) => <input {...p} type="text" defaultValue={v.description} key={`d-${v.description}`} />}
      </Field>
      <Field name="event_types" label="Event types" error={e.event_types} hint={<>Comma-separated: exact types, <code>prefix.*</code> or <code>*</code> (empty means every type).</>}>
        {(p) => <input {...p} type="text" defaultValue={v.event_types} placeholder="*" key={`t-${v.event_types}`} />}
      </Field>
      <Field name="payload_filter" label="Payload filter (JSON)" error={e.payload_filter} hint={<>Optional, e.g. <code>{'{"field": "amount", "gt": 100}'}</code>.</>}>
        {(p) => <textarea {...p} defaultValue={v.payload_filter} rows={3} spellCheck={false} key={`f-${v.payload_filter}`} />}
      </Field>
      <Field name="headers" label="Custom headers" error={e.headers} hint={<>One <code>name: value</code> per line; <code>webhook-*</code>, <code>content-type</code> and <code>host</code> are reserved.</>}>
        {(p) => <textarea {...p} defaultValue={v.headers} rows={3} spellCheck={false} key={`h-${v.headers}`} />}
      </Field>
      <div className="grid2">
        <Field name="max_concurrency" label="Max concurrency" error={e.max_concurrency} hint="Deliveries in flight at most, 1 to 1000 (16 by default).">
          {(p) => <input {...p} type="number" min={1} max={1000} defaultValue={v.max_concurrency} key={`c-${v.max_concurrency}`} />}
        </Field>
        <Field name="rate_limit_per_second" label="Rate limit (per second)" error={e.rate_limit_per_second} hint="1 to 100000; empty means unlimited.">
          {(p) => <input {...p} type="number" min={1} defaultValue={v.rate_limit_per_second} key={`r-${v.rate_limit_per_second}`} />}
        </Field>
      </div>
      <button className="btn primary" type="submit" aria-disabled={pending}>
        {pending ? "Saving…" : submitLabel}
      </button>
    </form>
  );
}
