-- Runs: one scored month each, immutable once written (only status/approval change).
CREATE TABLE IF NOT EXISTS runs (
    run_id            VARCHAR NOT NULL,
    seq               BIGINT NOT NULL,       -- creation order
    month             VARCHAR NOT NULL,      -- YYYY-MM
    created_at        TIMESTAMP NOT NULL,    -- UTC
    created_by        VARCHAR NOT NULL,
    status            VARCHAR NOT NULL,      -- draft | approved (pending: a backfill under way)
    approved_by       VARCHAR,
    approved_at       TIMESTAMP,
    backfill_id       VARCHAR,               -- runs made together by one backfill
    window_start      DATE NOT NULL,
    window_end        DATE NOT NULL,
    top_n             INTEGER NOT NULL,
    attribution       VARCHAR NOT NULL,
    lpas              VARCHAR[] NOT NULL,    -- the LPAs that have lists
    config            JSON NOT NULL,         -- the configuration as given
    weights           JSON NOT NULL,         -- tables used, with checksums
    offence_sets      JSON NOT NULL,         -- sets used: name, source, checksum, codes
    rule              JSON NOT NULL,         -- repeat rule: name, version, source, definition
    data_fingerprint  VARCHAR NOT NULL,
    last_load_id      INTEGER NOT NULL,      -- the data as of this load (see *_versions)
    engine_version    VARCHAR NOT NULL,
    data_quality      JSON NOT NULL
);

-- The resolved weight of every code a run used (so an explanation never depends on files).
CREATE TABLE IF NOT EXISTS run_weights (
    run_id   VARCHAR NOT NULL,
    ho_code  VARCHAR NOT NULL,
    weight   DECIMAL(18, 6) NOT NULL
);

-- Every scored nominal of a run: its scores, attributed LPA and ranks (history reads this).
-- Rows are written sorted by nkey within each batch of runs, so a nominal's rows are found
-- through the row-group statistics without an index.
CREATE TABLE IF NOT EXISTS run_scores (
    run_id             VARCHAR NOT NULL,
    nkey               INTEGER NOT NULL,      -- the nominal (see nominal_keys)
    lpa                VARCHAR NOT NULL,      -- attributed LPA (principal under `presence`)
    harm               DECIMAL(18, 6) NOT NULL,
    frequency          INTEGER NOT NULL,
    victims            INTEGER NOT NULL,
    last_recorded_on   DATE NOT NULL,
    harm_rank          INTEGER,               -- in the LPA's harm list (NULL when harm = 0)
    frequency_rank     INTEGER NOT NULL,      -- in the LPA's frequency list
    repeat_suspect     BOOLEAN NOT NULL
);

-- The published lists: top_n harm and frequency entries per LPA and ALL; every repeat suspect
-- once, in the list of its LPA, with its rank there and in ALL's (uncut) repeat list.
CREATE TABLE IF NOT EXISTS run_entries (
    run_id            VARCHAR NOT NULL,
    lpa               VARCHAR NOT NULL,       -- the list's LPA, or ALL
    list              VARCHAR NOT NULL,       -- harm | frequency | repeat
    rank              INTEGER NOT NULL,
    nominal_id        VARCHAR NOT NULL,
    entry_lpa         VARCHAR NOT NULL,       -- the nominal's attributed LPA
    harm              DECIMAL(18, 6),
    frequency         INTEGER,
    victims           INTEGER NOT NULL,
    last_recorded_on  DATE NOT NULL,
    repeat_suspect    BOOLEAN,
    qualifying        INTEGER,                -- repeat list only
    reasons           VARCHAR[],              -- repeat list only
    prev_rank         INTEGER,                -- rank on the same list at M-1 (NULL = new)
    all_rank          INTEGER,                -- repeat list only: rank in ALL's repeat list
    all_prev_rank     INTEGER                 -- repeat list only: rank in ALL's at M-1
);

-- Crimes behind each entry: contributing (harm/frequency) or qualifying (repeat).
CREATE TABLE IF NOT EXISTS run_crimes (
    run_id       VARCHAR NOT NULL,
    kind         VARCHAR NOT NULL,            -- scored | qualifying
    nominal_id   VARCHAR NOT NULL,
    crime_id     VARCHAR NOT NULL,
    ho_code      VARCHAR NOT NULL,
    recorded_on  DATE NOT NULL,
    lpa          VARCHAR NOT NULL,
    weight       DECIMAL(18, 6)
);

-- Orders active on the last day of the month, for nominals on a list.
CREATE TABLE IF NOT EXISTS run_orders (
    run_id      VARCHAR NOT NULL,
    nominal_id  VARCHAR NOT NULL,
    order_id    VARCHAR NOT NULL,
    order_type  VARCHAR NOT NULL,
    starts_on   DATE NOT NULL,
    ends_on     DATE
);
