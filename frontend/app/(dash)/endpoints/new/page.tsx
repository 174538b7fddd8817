import type { Metadata } from "next";
import Link from "next/link";
import { createEndpoint } from "@/lib/actions";
import { requireSession } from "@/lib/session";
import { EndpointForm } from "@/components/EndpointForm";
import { ScopeNeeded } from "@/components/ScopeNeeded";

export const metadata: Metadata = { title: "New endpoint" };

export default async function NewEndpoint() {
  const session = await requireSession();
  if (!session.admin || session.operator) return <ScopeNeeded scope="admin" operator={session.operator} />;
  return (
    <>
      <p><Link href="/endpoints">← Endpoints</Link></p>
      <h1>New endpoint</h1>
      <EndpointForm action={createEndpoint} submitLabel="Create endpoint" initial={{ url: "", description: "", event_types: "", payload_filter: "", headers: "", max_concurrency: "", rate_limit_per_second: "" }} />
    </>
  );
}
