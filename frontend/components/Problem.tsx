import Link from "next/link";
import type { Problem } from "@/lib/types";

/** An API failure, said plainly, with what to do next. */
export function ProblemPanel({ problem, what }: { problem: Problem; what: string }) {
  let advice: React.ReactNode;
  if (problem.status === 401) advice = <>Your key is no longer accepted. <Link href="/signin">Sign in again</Link>.</>;
  else if (problem.status === 403)
    advice = <>Your key may not do this. Sign in with a key that has the scope named above (an admin can create one under Admin → API keys), or with the operator token for projects and keys. <Link href="/signin">Sign in with another key</Link>.</>;
  else if (problem.status === 404) advice = <>It does not exist in your project, or belongs to another one.</>;
  else if (problem.status === 503 || problem.status >= 500) advice = <>Try again in a moment; if it persists, check the query API&apos;s logs.</>;
  else advice = null;
  return (
    <div className="panel problem" role="alert">
      <h2>Could not {what}</h2>
      <p>
        <strong>{problem.title ?? `HTTP ${problem.status}`}</strong>
        {problem.detail ? <>: {problem.detail}</> : null}
      </p>
      {problem.errors?.length ? (
        <ul>
          {problem.errors.map((e, i) => (
            <li key={i}>
              <code>{e.field}</code>: {e.message}
            </li>
          ))}
        </ul>
      ) : null}
      {advice ? <p>{advice}</p> : null}
    </div>
  );
}
