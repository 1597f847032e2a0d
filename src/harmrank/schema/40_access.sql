-- Access control for the HTTP API and web pages (SPEC section 7).
-- No secret is ever stored: a token or a session cookie is kept only as its SHA-256.

-- API tokens: who, which roles, which LPAs (NULL = every LPA), until when; revocation kept.
CREATE TABLE IF NOT EXISTS api_tokens (
    token_id     VARCHAR NOT NULL,       -- public id (printed by `token list`), part of the token
    user_name    VARCHAR NOT NULL,
    roles        VARCHAR[] NOT NULL,     -- analyst, offender_manager, supervisor, auditor, admin
    lpas         VARCHAR[],              -- NULL = every LPA
    token_hash   VARCHAR NOT NULL,       -- SHA-256 of the whole token, hex
    created_at   TIMESTAMP NOT NULL,     -- UTC
    created_by   VARCHAR NOT NULL,
    expires_at   TIMESTAMP NOT NULL,     -- UTC
    revoked_at   TIMESTAMP,
    revoked_by   VARCHAR
);

-- Web sessions opened by signing in with a token; they end with the token, on sign-out, or
-- after `[api] session_idle_hours` without a request.
CREATE TABLE IF NOT EXISTS web_sessions (
    session_hash  VARCHAR NOT NULL,      -- SHA-256 of the cookie value, hex
    token_id      VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    last_seen_at  TIMESTAMP NOT NULL,
    ended_at      TIMESTAMP
);

-- Failed sign-ins per client address: after a few, each attempt must wait longer.
CREATE TABLE IF NOT EXISTS signin_throttle (
    client            VARCHAR NOT NULL,
    failures          INTEGER NOT NULL,
    first_failure_at  TIMESTAMP NOT NULL,
    last_failure_at   TIMESTAMP NOT NULL
);
