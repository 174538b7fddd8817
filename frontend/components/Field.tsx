/** A labelled input whose hint and error are tied to it for screen readers. */
export function Field({
  name, label, hint, error, children, idPrefix = "",
}: {
  name: string;
  /** Tells apart two forms on one page that share field names. */
  idPrefix?: string;
  label: string;
  hint?: React.ReactNode;
  error?: string;
  children: (props: { id: string; name: string; "aria-invalid"?: true; "aria-describedby"?: string }) => React.ReactNode;
}) {
  const id = `fld-${idPrefix}${name}`;
  const described = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(" ") || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children({ id, name, "aria-invalid": error ? true : undefined, "aria-describedby": described })}
      {hint ? <p id={`${id}-hint`} className="hint">{hint}</p> : null}
      {error ? <p id={`${id}-error`} className="field-error">{error}</p> : null}
    </div>
  );
}
