-- The audit log (Data Protection Act 2018 s.62): append-only and hash-chained.
-- Each record's hash covers its fields and the hash of the record before it.
CREATE TABLE IF NOT EXISTS audit_log (
    seq            BIGINT NOT NULL,      -- 1, 2, 3 … without gaps
    logged_at      TIMESTAMP NOT NULL,   -- UTC
    user_name      VARCHAR NOT NULL,
    roles          VARCHAR[] NOT NULL,
    action         VARCHAR NOT NULL,     -- read, ingest, run, approve, token-create, …
    route          VARCHAR,              -- HTTP route or CLI command
    nominal_id     VARCHAR,
    lpa            VARCHAR,
    month          VARCHAR,
    justification  VARCHAR,
    status         INTEGER,              -- HTTP status (CLI: 200 ok, 4xx/5xx refused or failed)
    row_count      BIGINT,
    detail         VARCHAR,              -- JSON text, canonical
    prev_hash      VARCHAR NOT NULL,
    hash           VARCHAR NOT NULL
);
