const TEXT: Record<string, string> = {
  succeeded: "Succeeded",
  pending: "Retrying",
  failed: "Failed",
  refused: "Refused",
};

/** A delivery status as text plus colour (never colour alone). */
export function StatusBadge({ status, attempts }: { status: string; attempts?: number }) {
  const text = status === "pending" && attempts === 0 ? "Pending" : TEXT[status] ?? status;
  return <span className={`badge badge-${status}`}>{text}</span>;
}
