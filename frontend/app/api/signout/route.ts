import { NextResponse, type NextRequest } from "next/server";
import { publicUrl } from "@/lib/http";
import { SESSION_COOKIE } from "@/lib/session";

/** Signs out: forgets the key in this browser. */
export async function POST(request: NextRequest) {
  const response = NextResponse.redirect(publicUrl(request, "/signin?signedout=1"), 303);
  response.cookies.set(SESSION_COOKIE, "", { httpOnly: true, sameSite: "strict", path: "/", maxAge: 0 });
  return response;
}
