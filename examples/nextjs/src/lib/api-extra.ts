// Routes of the contract (API.md) that openapi.yaml does not describe yet: email
// verification and the change of email. Typed by hand in the generator's shape so that the
// one client covers them; delete this file once `npm run gen:api` produces them.
import type { components } from "./api";

type Schemas = components["schemas"];
type Json<T> = { headers: { [name: string]: unknown }; content: { "application/json": T } };
type ErrorAnswer = Json<Schemas["Error"]>;

type Post<Body, Answer> = {
  parameters: { query?: never; header?: never; path?: never; cookie?: never };
  get?: never;
  put?: never;
  post: {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    requestBody: { content: { "application/json": Body } };
    responses: {
      200: Json<Answer>;
      400: ErrorAnswer;
      401: ErrorAnswer;
      403: ErrorAnswer;
      429: ErrorAnswer;
      503: ErrorAnswer;
    };
  };
  delete?: never;
  options?: never;
  head?: never;
  patch?: never;
  trace?: never;
};

export interface extraPaths {
  "/api/auth/verify-email": Post<
    { token: string },
    { message: string; user: Schemas["User"] & { email_verified: boolean } }
  >;
  "/api/auth/send-verification-email": Post<{ email: string }, Schemas["Message"]>;
  "/api/auth/change-email": Post<{ new_email: string; password: string }, Schemas["Message"]>;
}
