import "server-only";
import { cookies, headers } from "next/headers";
import { redirect } from "next/navigation";

export const SESSION_COOKIE = "ef_session";

/** What the signed-in credential may do, found out at sign-in by probing the API. */
export interface Session {
  key: string;
  operator: boolean;
  read: boolean;
  admin: boolean;
}

export function encodeSession(s: Session): string {
  return Buffer.from(JSON.stringify(s)).toString("base64url");
}

export function decodeSession(raw: string | undefined): Session | null {
  if (!raw) return null;
  try {
    const s = JSON.parse(Buffer.from(raw, "base64url").toString("utf8"));
    if (typeof s?.key !== "string" || !s.key) return null;
    return { key: s.key, operator: !!s.operator, read: !!s.read, admin: !!s.admin };
  } catch {
    return null;
  }
}

export async function getSession(): Promise<Session | null> {
  return decodeSession((await cookies()).get(SESSION_COOKIE)?.value);
}

/** The session, or a redirect to the sign-in page. */
export async function requireSession(): Promise<Session> {
  const s = await getSession();
  if (!s) redirect("/signin");
  return s;
}

/** `Secure` only when the browser reached us over HTTPS (directly or through a proxy). */
export async function isHttps(): Promise<boolean> {
  const h = await headers();
  return (h.get("x-forwarded-proto") ?? "").split(",")[0].trim() === "https";
}

export const COOKIE_OPTIONS = {
  httpOnly: true,
  sameSite: "strict" as const,
  path: "/",
  // Eight hours: a working day; the key itself stays valid in the API.
  maxAge: 8 * 3600,
};
