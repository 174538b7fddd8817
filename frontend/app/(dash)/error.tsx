"use client";

export default function DashboardError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <div className="panel problem" role="alert">
      <h1>Something went wrong</h1>
      <p>The page could not be shown{error.digest ? ` (reference ${error.digest})` : ""}. Try again; if it persists, the dashboard&apos;s log has the cause.</p>
      <button className="btn" type="button" onClick={reset}>Try again</button>
    </div>
  );
}
