import createClient from "openapi-fetch";
import type { components, paths } from "./api";

export type User = components["schemas"]["User"];
export type Task = components["schemas"]["Task"];
export type Session = components["schemas"]["SessionSummary"];

/** The contract's answer to every 5xx, used as well when the server cannot be reached. */
export const UNAVAILABLE = "Service temporarily unavailable, please try again";

/**
 * The todo API, on this app's own origin (src/proxy.ts forwards /api/* to it). No token
 * anywhere: the browser sends the HttpOnly session cookie by itself, so page scripts never
 * hold a credential. Signup and signin answers carry a `token` too; it is never read.
 */
export const api = createClient<paths>();

function jsonError(message: string, status: number): Response {
  return new Response(JSON.stringify({ error: message }), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

api.use({
  onResponse({ response }) {
    // Not signed in, or the session ended (signed out elsewhere, revoked, expired).
    if (response.status === 401 && typeof window !== "undefined") {
      window.location.replace("/signin");
    }
    // Every answer of the API is JSON; anything else came from in between (the proxy
    // without an API behind it, say): callers still get `{error}`.
    const type = response.headers.get("Content-Type") ?? "";
    if (!response.ok && !type.startsWith("application/json")) {
      return jsonError(UNAVAILABLE, response.status);
    }
    return undefined;
  },
  onError() {
    return jsonError(UNAVAILABLE, 503);
  },
});
