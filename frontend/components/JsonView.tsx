import type { ReactNode } from "react";

/**
 * Pretty JSON as nested, natively collapsible <details> (keyboard and screen
 * readers get disclosure widgets for free; no JavaScript needed).
 */
export function JsonView({ value, name }: { value: unknown; name?: string }) {
  return <div className="json">{node(value, name, 0)}</div>;
}

function scalar(value: unknown): ReactNode {
  if (value === null) return <span className="j-null">null</span>;
  if (typeof value === "string") return <span className="j-str">{JSON.stringify(value)}</span>;
  if (typeof value === "number") return <span className="j-num">{String(value)}</span>;
  if (typeof value === "boolean") return <span className="j-bool">{String(value)}</span>;
  return <span>{JSON.stringify(value)}</span>;
}

function node(value: unknown, name: string | undefined, depth: number): ReactNode {
  const label = name !== undefined ? <span className="j-key">{JSON.stringify(name)}: </span> : null;
  if (value === null || typeof value !== "object") {
    return (
      <div className="j-row">
        {label}
        {scalar(value)}
      </div>
    );
  }
  const entries: [string | undefined, unknown][] = Array.isArray(value) ? value.map((v) => [undefined, v]) : Object.entries(value as Record<string, unknown>);
  const [open, close] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  if (entries.length === 0) {
    return (
      <div className="j-row">
        {label}
        {open + close}
      </div>
    );
  }
  return (
    <details open={depth < 3} className="j-node">
      <summary>
        {label}
        {open}
        <span className="j-count muted"> {entries.length} {Array.isArray(value) ? "items" : "keys"}</span>
      </summary>
      <div className="j-children">{entries.map(([k, v], i) => <div key={k ?? i}>{node(v, k, depth + 1)}</div>)}</div>
      <div className="j-row">{close}</div>
    </details>
  );
}
