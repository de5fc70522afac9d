import { isIP } from "node:net";
import { NextResponse, type NextRequest } from "next/server";

// Same origin for the browser: every /api/* request is forwarded to the todo API, read from
// API_URL when the request arrives (so `next start` can point a build at any API). The
// browser sends the API's HttpOnly `todo_session` cookie (Path=/api) with these requests by
// itself, and its `Origin` (this app's) goes along unchanged for the API's CSRF check.
//
// The API counts failed signins, signups and mails per client address, and sees this
// server as the client of every request. With TRUSTED_PROXY_SECRET (the API's own value)
// and CLIENT_IP_HEADER (the header the host in front of this server sets to the client's
// address, which no client can choose), the API is told who the client is. Headers a
// client can send are never taken for its address: the two the API reads are removed from
// every incoming request, and X-Forwarded-For is read only when it is CLIENT_IP_HEADER.
export function proxy(request: NextRequest) {
  const apiUrl = (process.env.API_URL || "http://127.0.0.1:8000").replace(/\/+$/, "");
  const { pathname, search } = request.nextUrl;

  const headers = new Headers(request.headers);
  headers.delete("x-proxy-secret");
  headers.delete("x-client-ip");
  const secret = process.env.TRUSTED_PROXY_SECRET?.trim() ? process.env.TRUSTED_PROXY_SECRET : undefined;
  const header = process.env.CLIENT_IP_HEADER?.trim() || undefined;
  const client = header && clientAddress(request.headers.get(header));
  if (secret && client) {
    headers.set("x-proxy-secret", secret);
    headers.set("x-client-ip", client);
  } else if (!secret && header) {
    warnOnce("CLIENT_IP_HEADER is set but TRUSTED_PROXY_SECRET is not");
  } else if (secret) {
    warnOnce(header ? `a request came without an address in ${header}` : "CLIENT_IP_HEADER is not set");
  }
  return NextResponse.rewrite(new URL(`${pathname}${search}`, apiUrl), { request: { headers } });
}

export const config = { matcher: "/api/:path*" };

/**
 * The address in the value of CLIENT_IP_HEADER. In a list (X-Forwarded-For) only the last
 * entry counts: the one the host's own proxy appended; what came before, the client wrote.
 */
function clientAddress(value: string | null): string | undefined {
  const address = value?.split(",").at(-1)?.trim();
  return address && isIP(address) ? address : undefined;
}

let warned = false;

/** One log line for a half-done setup: the API then counts this server as every user. */
function warnOnce(problem: string) {
  if (warned) return;
  warned = true;
  console.warn(`proxy: ${problem}, so the API is not told the client's address (see README.md)`);
}
