-- Better Auth interop: callers authenticated by the app's own Better Auth server own
-- tasks too. Conventions: see V1.
--
-- Such a caller gets a row in `users` on first use, with no email, name or password
-- (Better Auth keeps those; our signin can never match it), and `identities` records
-- whose it is: Better Auth's issuer and user id. Nothing is ever linked by email. The
-- row's id is a function of issuer and user id (a UUIDv8 from their SHA-256), so that many
-- instances seeing a new caller at once all create the same one row. Nothing here refers
-- to Better Auth's own tables ("user", "session", "jwks"): they may already exist in this
-- database, or not yet.

ALTER TABLE users ALTER COLUMN email DROP NOT NULL,
                  ALTER COLUMN name DROP NOT NULL,
                  ALTER COLUMN password_hash DROP NOT NULL;
-- One of our accounts has all three; a Better Auth caller's row has none.
ALTER TABLE users ADD CONSTRAINT users_own_account_or_identity
    CHECK ((email IS NULL) = (name IS NULL) AND (email IS NULL) = (password_hash IS NULL));

CREATE FUNCTION identity_user_id(issuer text, subject text) RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT encode(
        set_byte(set_byte(substring(digest FROM 1 FOR 16),
                          6, (get_byte(digest, 6) & 15) | 128),   -- version 8
                 8, (get_byte(digest, 8) & 63) | 128),            -- RFC 9562 variant
        'hex')::uuid
      FROM (SELECT sha256(convert_to(issuer || chr(10) || subject, 'UTF8')) AS digest) AS d
$$;

CREATE TABLE identities (
    issuer     text NOT NULL,
    subject    text NOT NULL,
    user_id    uuid NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer, subject),
    CONSTRAINT identities_user_id_derived CHECK (user_id = identity_user_id(issuer, subject))
);
