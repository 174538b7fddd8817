"use client";
import { useActionState } from "react";
import type { FormState, KeyState } from "@/lib/actions";
import { CopyButton } from "./CopyButton";
import { Field } from "./Field";
import { TzInput } from "./TzInput";

function Banner({ state }: { state: FormState }) {
  const count = Object.keys(state.errors).length;
  if (!count && !state.message) return null;
  const ok = !count && state.message === "Saved.";
  return (
    <div className={`panel ${ok ? "notice" : "problem"}`} role={ok ? "status" : "alert"}>
      {state.message ?? `Please fix ${count} field${count === 1 ? "" : "s"} below.`}
      {state.errors._form ? <div>{state.errors._form}</div> : null}
    </div>
  );
}

/** A project's name, rate limit and retention (the operator token alone may change limits). */
export function ProjectForm({ action, initial, submitLabel, idPrefix }: { action: (p: FormState, f: FormData) => Promise<FormState>; initial: Record<string, string>; submitLabel: string; idPrefix: string }) {
  const [state, formAction, pending] = useActionState(action, { errors: {}, values: initial });
  const v = state.values;
  const e = state.errors;
  return (
    <form action={formAction} noValidate>
      <Banner state={state} />
      <Field idPrefix={idPrefix} name="name" label="Name" error={e.name}>{(p) => <input {...p} type="text" defaultValue={v.name} key={`n-${v.name}`} />}</Field>
      <div className="grid2">
        <Field idPrefix={idPrefix} name="rate_limit_per_second" label="Ingest rate limit (events/s)" error={e.rate_limit_per_second} hint="Empty: the gateway's default.">
          {(p) => <input {...p} type="number" min={1} defaultValue={v.rate_limit_per_second} key={`r-${v.rate_limit_per_second}`} />}
        </Field>
        <Field idPrefix={idPrefix} name="rate_limit_burst" label="Burst" error={e.rate_limit_burst}>
          {(p) => <input {...p} type="number" min={1} defaultValue={v.rate_limit_burst} key={`b-${v.rate_limit_burst}`} />}
        </Field>
        <Field idPrefix={idPrefix} name="retention_days" label="Retention (days)" error={e.retention_days}>
          {(p) => <input {...p} type="number" min={1} defaultValue={v.retention_days} key={`d-${v.retention_days}`} />}
        </Field>
      </div>
      <button className="btn primary" type="submit" aria-disabled={pending}>{pending ? "Saving…" : submitLabel}</button>
    </form>
  );
}

/** Creates an API key and shows its secret once. */
export function KeyForm({ action, projectId }: { action: (p: KeyState, f: FormData) => Promise<KeyState>; projectId: string }) {
  const [state, formAction, pending] = useActionState(action, { errors: {}, values: {} });
  const e = state.errors;
  return (
    <>
      {state.created ? (
        <div className="panel notice" role="status" data-testid="new-key">
          <p><strong>Key “{state.created.name}” created.</strong> Copy it now: it is shown only this once.</p>
          <div className="secret"><code>{state.created.key}</code><CopyButton text={state.created.key} label="Copy key" /></div>
        </div>
      ) : null}
      <form action={formAction} noValidate>
        <Banner state={state} />
        <input type="hidden" name="project_id" value={projectId} />
        <TzInput />
        <Field idPrefix="key-" name="name" label="Key name" error={e.name} hint="Who or what uses it, e.g. “billing service”.">
          {(p) => <input {...p} type="text" defaultValue={state.values.name} key={`k-${state.created?.id ?? ""}`} />}
        </Field>
        <fieldset aria-describedby={e.scopes ? "scopes-error" : undefined}>
          <legend>Scopes</legend>
          <label className="check"><input type="checkbox" name="scopes" value="ingest" defaultChecked /> ingest — send events</label>
          <label className="check"><input type="checkbox" name="scopes" value="read" defaultChecked /> read — see events, deliveries, endpoints</label>
          <label className="check"><input type="checkbox" name="scopes" value="admin" /> admin — manage endpoints, replay, keys</label>
          {e.scopes ? <p id="scopes-error" className="field-error">{e.scopes}</p> : null}
        </fieldset>
        <Field idPrefix="key-" name="expires_at" label="Expires (optional)" error={e.expires_at} hint="Your local time; empty: never.">
          {(p) => <input {...p} type="datetime-local" style={{ width: "auto" }} />}
        </Field>
        <button className="btn primary" type="submit" aria-disabled={pending}>{pending ? "Creating…" : "Create key"}</button>
      </form>
    </>
  );
}
