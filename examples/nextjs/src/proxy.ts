import { NextResponse, type NextRequest } from "next/server";

// Same origin for the browser: every /api/* request is forwarded to the todo API, read from
// API_URL when the request arrives (so `next start` can point a build at any API). The
// browser sends the API's HttpOnly `todo_session` cookie (Path=/api) with these requests by
// itself, and its `Origin` (this app's) goes along unchanged for the API's CSRF check.
export function proxy(request: NextRequest) {
  const apiUrl = (process.env.API_URL || "http://127.0.0.1:8000").replace(/\/+$/, "");
  const { pathname, search } = request.nextUrl;
  return NextResponse.rewrite(new URL(`${pathname}${search}`, apiUrl));
}

export const config = { matcher: "/api/:path*" };
