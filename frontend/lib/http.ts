import type { NextRequest } from "next/server";

/** The browser's view of where it is (behind a proxy, the forwarded host and protocol). */
export function publicUrl(request: NextRequest, path: string): URL {
  const proto = (request.headers.get("x-forwarded-proto") ?? request.nextUrl.protocol.replace(":", "")).split(",")[0].trim();
  const host = request.headers.get("x-forwarded-host") ?? request.headers.get("host") ?? request.nextUrl.host;
  return new URL(path, `${proto}://${host}`);
}
