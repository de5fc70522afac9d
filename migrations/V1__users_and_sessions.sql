-- Conventions for every migration in this folder:
-- * files are V<n>__<what>.sql, applied in order of <n> exactly once, each in a transaction;
--   an applied file is never edited (its checksum is recorded), a change is a new file;
-- * tables are plural snake_case; timestamps are timestamptz, set by the database (now());
-- * CHECK constraints mirror the validation in shared/src/domain, so no path around the
--   API can store what the API would refuse; a violation that reaches the code is a bug
--   (expected conflicts, like a taken email, are settled in the statement with ON CONFLICT);
-- * comment lines may be corrected after a file was applied: the recorded checksum covers
--   the statements only.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL,
    name          text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_lowercase CHECK (email = lower(email)),
    CONSTRAINT users_email_length CHECK (char_length(email) BETWEEN 3 AND 254),
    CONSTRAINT users_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    CONSTRAINT users_password_hash_argon2id CHECK (password_hash LIKE '$argon2id$%')
);

-- Unique on the lowercased value, whatever a future writer forgets to lowercase.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- One row per issued token (its `jti`). Signing out deletes the row; a token is accepted
-- only while its row exists and has not expired. Deleting a user deletes its sessions.
CREATE TABLE sessions (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
