import { NextResponse, type NextRequest } from "next/server";
import { probeCredential } from "@/lib/api";
import { publicUrl } from "@/lib/http";
import { COOKIE_OPTIONS, SESSION_COOKIE, encodeSession } from "@/lib/session";

function back(request: NextRequest, error: string) {
  return NextResponse.redirect(publicUrl(request, `/signin?error=${error}`), 303);
}

/** Signs in: checks the key against the query API, then keeps it in an httpOnly cookie. */
export async function POST(request: NextRequest) {
  // Refuse sign-in forms posted from other sites (login CSRF).
  const origin = request.headers.get("origin");
  if (origin && new URL(origin).host !== (request.headers.get("x-forwarded-host") ?? request.headers.get("host"))) {
    return back(request, "origin");
  }
  const form = await request.formData();
  const key = String(form.get("key") ?? "").trim();
  if (!key) return back(request, "empty");
  const probe = await probeCredential(key);
  if (!probe.valid) return back(request, probe.reason);
  if (!probe.operator && !probe.read && !probe.admin) return back(request, "scope");
  const target = probe.operator ? "/admin" : probe.read ? "/" : "/endpoints";
  const response = NextResponse.redirect(publicUrl(request, target), 303);
  const secure = publicUrl(request, "/").protocol === "https:";
  response.cookies.set(SESSION_COOKIE, encodeSession({ key, ...probe }), { ...COOKIE_OPTIONS, secure });
  return response;
}
