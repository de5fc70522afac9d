// Test fixture: a minimal, real Better Auth server.
//
// The dev-server integration tests start this as a child process on the same
// PostgreSQL database as the API, to obtain genuine Better Auth credentials
// (session tokens, `set-auth-token` bearer tokens, JWKS-signed JWTs and
// session-cache JWTs) and check that the API accepts or refuses them.
//
// Install once with `npm ci` in this directory, then run `node server.mjs` with:
//   DATABASE_URL        postgres://user@host:port/db (any sslmode is ignored: plaintext)
//   BETTER_AUTH_SECRET  the shared secret
//   BETTER_AUTH_URL     optional: base URL (its issuer and audience); by default the
//                       address it listens on, http://127.0.0.1:<port>
//   PORT                optional: port to listen on (127.0.0.1); 0 (the default) lets
//                       the system pick a free one, printed once ready
//   JWT_ALG             optional: EdDSA (default), ES256, RS256 or PS256
//   COOKIE_CACHE        optional: "jwt" enables the session cookie cache, signed
//                       by the jwt plugin's keys (typ better-auth.session-cache+jwt)
//   JWT_EXPIRATION      optional: the JWTs' lifetime, e.g. "2s" (default "15m")
//   SCHEMA              optional: "drizzle" gives the tables a Drizzle or Prisma app
//                       typically has: plural snake_case models and columns (modelName,
//                       fields), uuid ids (generateId), and the session's timestamps
//                       altered to timestamp(3) without time zone after the migration
// It creates its tables (user, session, account, verification, jwks, or their plural
// names) if missing, then prints one line `READY <port>` to stdout. SIGTERM/SIGINT stop it.

import http from "node:http";
import pg from "pg";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import { bearer, jwt } from "better-auth/plugins";
import { createJwk } from "better-auth/plugins/jwt";

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set`);
    process.exit(2);
  }
  return value;
}

// Plaintext connection: drop any TLS parameters from the URL and turn TLS off.
const dbUrl = new URL(required("DATABASE_URL"));
for (const p of ["sslmode", "ssl", "sslcert", "sslkey", "sslrootcert"]) dbUrl.searchParams.delete(p);

const KEY_PAIRS = {
  EdDSA: { alg: "EdDSA", crv: "Ed25519" },
  ES256: { alg: "ES256" },
  RS256: { alg: "RS256" },
  PS256: { alg: "PS256" },
};
const jwtAlg = process.env.JWT_ALG || "EdDSA";
if (!KEY_PAIRS[jwtAlg]) {
  console.error(`JWT_ALG must be one of ${Object.keys(KEY_PAIRS).join(", ")}`);
  process.exit(2);
}
const cookieCacheJwt = process.env.COOKIE_CACHE === "jwt";
const jwtOptions = {
  jwks: { keyPairConfig: KEY_PAIRS[jwtAlg] },
  jwt: { expirationTime: process.env.JWT_EXPIRATION || "15m" },
  sessionCookieCache: cookieCacheJwt,
};

// A Date goes into a timestamp without time zone in the process's zone: UTC, as on servers.
process.env.TZ = "UTC";
const drizzle = process.env.SCHEMA === "drizzle";
if (process.env.SCHEMA && !drizzle) {
  console.error("SCHEMA must be drizzle or unset");
  process.exit(2);
}
const timestamps = { createdAt: "created_at", updatedAt: "updated_at" };
const models = drizzle
  ? {
      user: { modelName: "users", fields: { emailVerified: "email_verified", ...timestamps } },
      session: {
        modelName: "sessions",
        fields: {
          userId: "user_id",
          expiresAt: "expires_at",
          ipAddress: "ip_address",
          userAgent: "user_agent",
          ...timestamps,
        },
      },
      account: {
        modelName: "accounts",
        fields: {
          userId: "user_id",
          accountId: "account_id",
          providerId: "provider_id",
          accessToken: "access_token",
          refreshToken: "refresh_token",
          idToken: "id_token",
          accessTokenExpiresAt: "access_token_expires_at",
          refreshTokenExpiresAt: "refresh_token_expires_at",
          ...timestamps,
        },
      },
      verification: {
        modelName: "verifications",
        fields: { expiresAt: "expires_at", ...timestamps },
      },
    }
  : {};
if (drizzle) {
  jwtOptions.schema = {
    jwks: {
      modelName: "auth_jwks",
      fields: { publicKey: "public_key", privateKey: "private_key", createdAt: "created_at", expiresAt: "expires_at" },
    },
  };
}

const pool = new pg.Pool({ connectionString: dbUrl.toString(), ssl: false, max: 4 });

// Bound first, so that the base URL can name the port the system picked: nobody has to
// choose a port that might be taken by the time it is bound. Requests wait for the
// handler until READY is printed, and none comes before.
let handler = (_req, res) => {
  res.statusCode = 503;
  res.end();
};
const server = http.createServer((req, res) => handler(req, res));
await new Promise((resolve) => server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", resolve));
const baseURL = process.env.BETTER_AUTH_URL || `http://127.0.0.1:${server.address().port}`;

const auth = betterAuth({
  secret: required("BETTER_AUTH_SECRET"),
  baseURL,
  database: pool,
  emailAndPassword: { enabled: true },
  ...models,
  advanced: drizzle ? { database: { generateId: "uuid" } } : undefined,
  // Tests sign up and in many times in a row: no rate limiting, no telemetry.
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
  session: {
    ...models.session,
    ...(cookieCacheJwt ? { cookieCache: { enabled: true, strategy: "jwt" } } : {}),
  },
  plugins: [
    jwt(jwtOptions),
    bearer(),
  ],
});

const { runMigrations } = await getMigrations(auth.options);
await runMigrations();
if (drizzle) {
  // What Prisma's and Drizzle's own migrations often make of a DateTime: no time zone.
  await pool.query(`ALTER TABLE sessions
      ALTER COLUMN expires_at TYPE timestamp(3) USING expires_at AT TIME ZONE 'UTC',
      ALTER COLUMN created_at TYPE timestamp(3) USING created_at AT TIME ZONE 'UTC',
      ALTER COLUMN updated_at TYPE timestamp(3) USING updated_at AT TIME ZONE 'UTC'`);
}

// Better Auth signs with the newest key of the configured alg, else with the newest
// key of any alg, and mints a key only when the jwks table is empty: so that JWT_ALG
// holds on a database that already has keys, mint one of that alg if none exists.
const context = await auth.$context;
const keys = await context.adapter.findMany({ model: "jwks" });
if (!keys.some((key) => key.alg === jwtAlg)) await createJwk({ context }, jwtOptions);

handler = toNodeHandler(auth);
console.log(`READY ${server.address().port}`);

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.close(() => pool.end().then(() => process.exit(0)));
  server.closeAllConnections();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
