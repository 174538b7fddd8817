import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { getSession } from "@/lib/session";
import { ThemeSwitch } from "@/components/ThemeSwitch";
import { cookies } from "next/headers";

export const metadata: Metadata = { title: "Sign in" };

const MESSAGES: Record<string, { title: string; body: string }> = {
  invalid: {
    title: "That key was not accepted",
    body: "Check that you pasted the whole key (it starts with efk_) and that it has not been revoked or expired. An admin of your project can create a new one under Admin → API keys, or with `eventflow keys create`.",
  },
  scope: {
    title: "This key cannot see anything here",
    body: "The key is valid but has neither the read nor the admin scope (an ingest-only key). Sign in with a key that has the read scope to see events and endpoints, admin to manage them, or the operator token for projects and keys.",
  },
  unreachable: {
    title: "The query API did not answer",
    body: "The dashboard could not reach the query API. Check that it runs and that EVENTFLOW_QUERY_URL points at it, then try again.",
  },
  empty: { title: "Enter a key", body: "Paste an API key (efk_…) or the operator token." },
  origin: { title: "Sign-in refused", body: "The form was sent from another site. Open the dashboard directly and sign in again." },
};

export default async function SignIn({ searchParams }: { searchParams: Promise<Record<string, string | undefined>> }) {
  const sp = await searchParams;
  if (!sp.error && (await getSession())) redirect("/");
  const message = sp.error ? MESSAGES[sp.error] ?? MESSAGES.invalid : null;
  const theme = (await cookies()).get("ef_theme")?.value ?? "system";
  return (
    <main id="main" className="signin">
      <div className="spread">
        <h1>Sign in to EventFlow</h1>
        <ThemeSwitch current={theme} />
      </div>
      {sp.signedout ? (
        <p className="panel notice" role="status">You are signed out. The key was removed from this browser.</p>
      ) : null}
      {message ? (
        <div className="panel problem" role="alert" id="signin-error">
          <h2>{message.title}</h2>
          <p>{message.body}</p>
        </div>
      ) : null}
      <form method="post" action="/api/session" className="panel">
        <div className="field">
          <label htmlFor="key">API key or operator token</label>
          <input id="key" name="key" type="password" autoComplete="off" spellCheck={false} required aria-describedby="key-hint" aria-invalid={message ? true : undefined} autoFocus />
          <p id="key-hint" className="hint">
            Kept on the server in an httpOnly cookie for this browser session; this page&apos;s scripts never see it.
          </p>
        </div>
        <button className="btn primary" type="submit">Sign in</button>
      </form>
      <p className="muted small">
        Running locally? <code>scripts/dev.sh</code> prints a development key and saves it in <code>.eventflow/dev-key</code>.
      </p>
    </main>
  );
}
