-- The ingested extract: current state, version history, loads and the quarantine.
-- Keys are enforced by ingest (set-based merges), not by index constraints, so that a
-- national extract loads in one pass. Every change keeps the previous version.

CREATE TABLE IF NOT EXISTS loads (
    load_id      INTEGER NOT NULL,       -- 1, 2, 3 … in the order loads committed
    started_at   TIMESTAMP NOT NULL,
    finished_at  TIMESTAMP NOT NULL,
    loaded_by    VARCHAR NOT NULL,       -- operating-system user
    source       VARCHAR NOT NULL,       -- the extract folder
    replace      BOOLEAN NOT NULL,
    files        JSON NOT NULL,          -- {name: {format, sha256, bytes}}
    report       JSON NOT NULL,          -- the reconciliation printed by `harmrank ingest`
    fingerprint  VARCHAR NOT NULL        -- checksum of the whole stored extract after this load
);

CREATE TABLE IF NOT EXISTS crimes (
    crime_id        VARCHAR NOT NULL,
    ho_code         VARCHAR NOT NULL,
    recorded_on     DATE NOT NULL,
    committed_on    DATE,
    lpa             VARCHAR NOT NULL,
    domestic_abuse  BOOLEAN NOT NULL,
    victim_id       VARCHAR,
    status          VARCHAR NOT NULL,
    outcome         SMALLINT,
    updated_at      TIMESTAMP,
    load_id         INTEGER NOT NULL,     -- the load that wrote this version
    ckey            INTEGER NOT NULL,     -- the crime's key in crime_keys
    hkey            INTEGER NOT NULL,     -- its ho_code's key in offence_keys
    lkey            INTEGER NOT NULL,     -- its lpa's key in lpa_keys
    vkey            INTEGER               -- its victim_id's key in victim_keys (NULL: unknown)
);

CREATE TABLE IF NOT EXISTS links (
    crime_id    VARCHAR NOT NULL,
    nominal_id  VARCHAR NOT NULL,
    role        VARCHAR NOT NULL,
    load_id     INTEGER NOT NULL,
    nkey        INTEGER NOT NULL,     -- the nominal's key in nominal_keys
    ckey        INTEGER NOT NULL      -- the crime's key in crime_keys
);

-- A stable integer for every nominal ever linked to a crime: scoring groups, sorts and stores
-- on it (fast), and a nominal's history is found through it.
CREATE TABLE IF NOT EXISTS nominal_keys (
    nominal_id  VARCHAR PRIMARY KEY,
    nkey        INTEGER NOT NULL
);

-- Each nominal's place in nominal_id order (by code point) among every nominal with a key,
-- rebuilt whenever a load adds nominals: the lists break their last ties on it, an integer,
-- which orders exactly as the ids do and is far cheaper to sort and carry.
CREATE TABLE IF NOT EXISTS nominal_order (
    nkey  INTEGER NOT NULL,
    nord  INTEGER NOT NULL
);

-- A stable integer for every crime ever loaded, in the order (recorded_on, crime_id) within
-- each load, so that keys run roughly in date order: scoring joins links to crimes on it.
-- One row per crime_id (ingest adds only ids it does not hold; no index, for national loads).
CREATE TABLE IF NOT EXISTS crime_keys (
    crime_id    VARCHAR NOT NULL,
    ckey        INTEGER NOT NULL
);

-- Stable integers for the crimes' offence codes, LPAs and victims, so that scoring reads,
-- joins and counts integers only and looks the names up for the rows it stores. One row per
-- value ever loaded, numbered in the value's order within each load (LPAs' name order is
-- worked out when a run is scored: a later load may add a name that sorts first).
CREATE TABLE IF NOT EXISTS offence_keys (
    ho_code  VARCHAR NOT NULL,
    hkey     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS lpa_keys (
    lpa   VARCHAR NOT NULL,
    lkey  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS victim_keys (
    victim_id  VARCHAR NOT NULL,
    vkey       INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS nominals (
    nominal_id  VARCHAR NOT NULL,
    birth_year  INTEGER,
    home_lpa    VARCHAR,
    load_id     INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS orders (
    order_id    VARCHAR NOT NULL,
    nominal_id  VARCHAR NOT NULL,
    order_type  VARCHAR NOT NULL,
    starts_on   DATE NOT NULL,
    ends_on     DATE,
    load_id     INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS lpas (
    lpa      VARCHAR NOT NULL,
    load_id  INTEGER NOT NULL
);

-- Previous versions: a row here is a version that a later load revised or ended.
-- The version valid just after load L is the one with load_id <= L < superseded_by
-- (or the current row when its load_id <= L).
CREATE TABLE IF NOT EXISTS crime_versions AS
    SELECT *, 0::INTEGER AS superseded_by, ''::VARCHAR AS change, []::VARCHAR[] AS changed
    FROM crimes WHERE false;
CREATE TABLE IF NOT EXISTS link_versions AS
    SELECT *, 0::INTEGER AS superseded_by, ''::VARCHAR AS change, []::VARCHAR[] AS changed
    FROM links WHERE false;
CREATE TABLE IF NOT EXISTS nominal_versions AS
    SELECT *, 0::INTEGER AS superseded_by, ''::VARCHAR AS change, []::VARCHAR[] AS changed
    FROM nominals WHERE false;
CREATE TABLE IF NOT EXISTS order_versions AS
    SELECT *, 0::INTEGER AS superseded_by, ''::VARCHAR AS change, []::VARCHAR[] AS changed
    FROM orders WHERE false;
CREATE TABLE IF NOT EXISTS lpa_versions AS
    SELECT *, 0::INTEGER AS superseded_by, ''::VARCHAR AS change, []::VARCHAR[] AS changed
    FROM lpas WHERE false;

-- Rows that broke a rule: never dropped, never fixed; a person decides.
CREATE TABLE IF NOT EXISTS quarantine (
    load_id  INTEGER NOT NULL,
    file     VARCHAR NOT NULL,           -- crimes, suspects, nominals, lpas, orders
    line     BIGINT NOT NULL,            -- physical line where the record starts (header = 1)
    reason   VARCHAR NOT NULL,
    raw      JSON NOT NULL               -- raw values of the contract columns only
);
