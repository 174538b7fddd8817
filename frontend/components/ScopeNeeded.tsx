import Link from "next/link";

/** Said when the signed-in credential cannot see a page at all. */
export function ScopeNeeded({ scope, operator }: { scope: string; operator?: boolean }) {
  return (
    <div className="panel warn" role="alert">
      <h1>This page needs a key with the {scope} scope</h1>
      {operator ? (
        <p>You are signed in with the operator token, which manages projects and API keys only. To see a project&apos;s events and endpoints, create a key for it under <Link href="/admin">Admin</Link> and sign in with that key.</p>
      ) : (
        <p>Your key does not have the <code>{scope}</code> scope. Ask an admin of your project for a key that has it (Admin → API keys), then <Link href="/signin">sign in with it</Link>.</p>
      )}
    </div>
  );
}
