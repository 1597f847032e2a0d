-- harmrank's monthly lists (SPEC section 3 and 4, default configuration) in PostgreSQL.
--
-- The peer of `harmrank run --month M`: the same window, eligibility, exact decimal harm,
-- principal attribution, tie-breaks (code-point order, COLLATE "C"), movement against M-1 and
-- the default repeat rule `rasso-repeat-interim`, written as a force's warehouse team would.
--
-- Temporary tables are ANALYZEd as they are made: PostgreSQL has no statistics for them
-- otherwise, and plans the joins of the output as nested loops over 100,000s of rows.
--
-- Input tables (loaded by benchmarks/pg.py with COPY from the same extract harmrank ingests):
--   crimes(crime_id, ho_code, recorded_on, committed_on, lpa, domestic_abuse, victim_id,
--          status, outcome)
--   links(crime_id, nominal_id, role)          one row per (crime, nominal): duplicate rows of
--                                              the extract collapsed to the latest stage
--   nominals(nominal_id, birth_year, home_lpa)
--   orders(order_id, nominal_id, order_type, starts_on, ends_on)
--   lpa_list(lpa)                              the known LPAs (the extract's lpas file)
--   weights(ho_code, weight numeric(18,6))     harmrank's resolved weights (ONS CSS + aliases)
--   offence_sets(set_name, ho_code)            'vawg' and 'rasso'
--
-- Parameter: the as-at month, `SET harmrank.month = 'YYYY-MM';` before running the script
-- (in psql: `SET harmrank.month = '2025-12'; \i benchmarks/postgres_month.sql`).
--
-- Output, as harmrank stores a run (regular tables, replaced on every run):
--   month_scores   every nominal scored at M: harm, frequency, victims, last_recorded_on,
--                  attributed LPA, ranks in its LPA's lists and in ALL's, repeat flag
--                  (what a nominal's history reads)
--   month_entries  the top-10 harm and frequency lists of every LPA and ALL, and the repeat
--                  lists (not cut), with the rank at M-1 for movement (NULL = "new")
--   month_crimes   the crimes behind each entry: contributing ('scored') or 'qualifying'
--   month_orders   the orders active on the last day of M of every nominal on a list
-- The data-quality report and the provenance harmrank stores with a run are not computed.

-- ---------------------------------------------------------------------------- months ----
-- M (offset 0) and M-1 (offset -1): the 12-month scoring window and the 36-month rule window.
DROP TABLE IF EXISTS pm_months;
CREATE TEMP TABLE pm_months AS
WITH p AS (
    SELECT to_date(current_setting('harmrank.month') || '-01', 'YYYY-MM-DD') AS m_first
), o AS (
    SELECT (p.m_first + make_interval(months => k))::date AS first_day, k AS offs
    FROM p, (VALUES (0), (-1)) AS v(k)
)
SELECT offs,
       first_day,
       (first_day + interval '1 month' - interval '1 day')::date AS as_at,
       (first_day - interval '11 months')::date AS window_start,
       (first_day - interval '35 months')::date AS rule_start
FROM o;

-- ------------------------------------------------------------------------- eligible ----
-- Eligible (nominal, crime) pairs in the union of the two windows: recorded, VAWG (code in
-- the set or domestic-abuse-flagged), linked in any role but eliminated; with the weight.
DROP TABLE IF EXISTS pm_eligible;
CREATE TEMP TABLE pm_eligible AS
SELECT l.nominal_id, c.crime_id, c.ho_code, c.recorded_on, c.lpa, c.victim_id, w.weight
FROM crimes c
JOIN links l ON l.crime_id = c.crime_id
LEFT JOIN weights w ON w.ho_code = c.ho_code
WHERE c.recorded_on BETWEEN (SELECT min(window_start) FROM pm_months)
                        AND (SELECT max(as_at) FROM pm_months)
  AND c.status = 'recorded'
  AND l.role <> 'eliminated'
  AND (c.domestic_abuse
       OR c.ho_code IN (SELECT ho_code FROM offence_sets WHERE set_name = 'vawg'));

DROP TABLE IF EXISTS pm_in_window;
CREATE TEMP TABLE pm_in_window AS
SELECT m.offs, e.*
FROM pm_months m
JOIN pm_eligible e ON e.recorded_on BETWEEN m.window_start AND m.as_at;
ANALYZE pm_in_window;

-- --------------------------------------------------------------------------- scores ----
DROP TABLE IF EXISTS pm_scores;
CREATE TEMP TABLE pm_scores AS
SELECT offs, nominal_id,
       sum(coalesce(weight, 0))::numeric(18, 6) AS harm,
       count(*)::integer AS frequency,
       count(DISTINCT victim_id)::integer AS victims,
       max(recorded_on) AS last_recorded_on
FROM pm_in_window
GROUP BY offs, nominal_id;
ANALYZE pm_scores;

-- The principal LPA: the largest share of the window harm; ties to the LPA of the latest
-- recorded_on among them, then to the LPA name in code-point order.
DROP TABLE IF EXISTS pm_principal;
CREATE TEMP TABLE pm_principal AS
SELECT DISTINCT ON (offs, nominal_id) offs, nominal_id, lpa
FROM (
    SELECT offs, nominal_id, lpa,
           sum(coalesce(weight, 0)) AS lpa_harm, max(recorded_on) AS lpa_last
    FROM pm_in_window
    GROUP BY offs, nominal_id, lpa
) per_lpa
ORDER BY offs, nominal_id, lpa_harm DESC, lpa_last DESC, lpa COLLATE "C" ASC;
ANALYZE pm_principal;

-- Rank of every scored nominal in its LPA's lists and in ALL's (harm list: harm > 0 only).
DROP TABLE IF EXISTS pm_ranked;
CREATE TEMP TABLE pm_ranked AS
WITH members AS (
    SELECT offs, lpa AS list_lpa, nominal_id FROM pm_principal
    UNION ALL
    SELECT offs, 'ALL', nominal_id FROM pm_scores
)
SELECT m.offs, m.list_lpa, m.nominal_id, s.harm, s.frequency, s.victims, s.last_recorded_on,
       CASE WHEN s.harm > 0 THEN row_number() OVER (
           PARTITION BY m.offs, m.list_lpa, s.harm > 0
           ORDER BY s.harm DESC, s.frequency DESC, s.last_recorded_on DESC,
                    m.nominal_id COLLATE "C" ASC)
       END::integer AS harm_rank,
       row_number() OVER (
           PARTITION BY m.offs, m.list_lpa
           ORDER BY s.frequency DESC, s.harm DESC, s.last_recorded_on DESC,
                    m.nominal_id COLLATE "C" ASC
       )::integer AS frequency_rank
FROM members m
JOIN pm_scores s ON s.offs = m.offs AND s.nominal_id = m.nominal_id;
ANALYZE pm_ranked;

-- ---------------------------------------------------------------------- repeat rule ----
-- rasso-repeat-interim: at least 2 eligible (status recorded; role suspect, charged or
-- convicted) RASSO crimes recorded in the 36 whole months ending with the as-at month
-- (min_distinct_victims = 1, a null victim counting as one more distinct victim).
DROP TABLE IF EXISTS pm_rule_crimes;
CREATE TEMP TABLE pm_rule_crimes AS
SELECT m.offs, l.nominal_id, c.crime_id, c.ho_code, c.recorded_on, c.lpa, c.victim_id
FROM crimes c
JOIN links l ON l.crime_id = c.crime_id
JOIN pm_months m ON c.recorded_on BETWEEN m.rule_start AND m.as_at
WHERE c.recorded_on BETWEEN (SELECT min(rule_start) FROM pm_months)
                        AND (SELECT max(as_at) FROM pm_months)
  AND c.status = 'recorded'
  AND l.role IN ('suspect', 'charged', 'convicted')
  AND c.ho_code IN (SELECT ho_code FROM offence_sets WHERE set_name = 'rasso');
ANALYZE pm_rule_crimes;

DROP TABLE IF EXISTS pm_flagged;
CREATE TEMP TABLE pm_flagged AS
SELECT offs, nominal_id,
       count(*)::integer AS qualifying,
       count(DISTINCT victim_id)::integer AS victims,
       max(recorded_on) AS last_recorded_on
FROM pm_rule_crimes
GROUP BY offs, nominal_id
HAVING count(*) >= 2
   AND count(DISTINCT victim_id) + count(*) FILTER (WHERE victim_id IS NULL) >= 1;
ANALYZE pm_flagged;

-- The repeat list's LPA: most qualifying crimes; ties to the latest qualifying recorded_on,
-- then to the name.
DROP TABLE IF EXISTS pm_repeat_ranked;
CREATE TEMP TABLE pm_repeat_ranked AS
WITH pick AS (
    SELECT DISTINCT ON (r.offs, r.nominal_id) r.offs, r.nominal_id, r.lpa
    FROM (
        SELECT q.offs, q.nominal_id, q.lpa, count(*) AS n, max(q.recorded_on) AS last
        FROM pm_rule_crimes q
        JOIN pm_flagged f ON f.offs = q.offs AND f.nominal_id = q.nominal_id
        GROUP BY q.offs, q.nominal_id, q.lpa
    ) r
    ORDER BY r.offs, r.nominal_id, r.n DESC, r.last DESC, r.lpa COLLATE "C" ASC
), members AS (
    SELECT f.*, p.lpa, p.lpa AS list_lpa
    FROM pm_flagged f JOIN pick p ON p.offs = f.offs AND p.nominal_id = f.nominal_id
    UNION ALL
    SELECT f.*, p.lpa, 'ALL'
    FROM pm_flagged f JOIN pick p ON p.offs = f.offs AND p.nominal_id = f.nominal_id
)
SELECT members.*,
       row_number() OVER (
           PARTITION BY offs, list_lpa
           ORDER BY qualifying DESC, victims DESC, last_recorded_on DESC,
                    nominal_id COLLATE "C" ASC
       )::integer AS rank
FROM members;
ANALYZE pm_repeat_ranked;

-- --------------------------------------------------------------------------- output ----
DROP TABLE IF EXISTS month_scores;
CREATE TABLE month_scores AS
SELECT current_setting('harmrank.month') AS month, s.nominal_id, p.lpa, s.harm, s.frequency,
       s.victims, s.last_recorded_on, own.harm_rank, own.frequency_rank,
       al.harm_rank AS all_harm_rank, al.frequency_rank AS all_frequency_rank,
       f.nominal_id IS NOT NULL AS repeat_suspect
FROM pm_scores s
JOIN pm_principal p ON p.offs = s.offs AND p.nominal_id = s.nominal_id
JOIN pm_ranked own ON own.offs = s.offs AND own.nominal_id = s.nominal_id
                  AND own.list_lpa = p.lpa
JOIN pm_ranked al ON al.offs = s.offs AND al.nominal_id = s.nominal_id AND al.list_lpa = 'ALL'
LEFT JOIN pm_flagged f ON f.offs = s.offs AND f.nominal_id = s.nominal_id
WHERE s.offs = 0;

DROP TABLE IF EXISTS month_entries;
CREATE TABLE month_entries AS
WITH top AS (
    SELECT offs, list_lpa AS lpa, 'harm' AS list, harm_rank AS rank, nominal_id
    FROM pm_ranked WHERE harm_rank <= 10
    UNION ALL
    SELECT offs, list_lpa, 'frequency', frequency_rank, nominal_id
    FROM pm_ranked WHERE frequency_rank <= 10
)
SELECT t.lpa, t.list, t.rank, t.nominal_id, p.lpa AS entry_lpa, s.harm, s.frequency,
       s.victims, s.last_recorded_on, f.nominal_id IS NOT NULL AS repeat_suspect,
       NULL::integer AS qualifying, prev.rank AS prev_rank
FROM top t
JOIN pm_scores s ON s.offs = 0 AND s.nominal_id = t.nominal_id
JOIN pm_principal p ON p.offs = 0 AND p.nominal_id = t.nominal_id
LEFT JOIN pm_flagged f ON f.offs = 0 AND f.nominal_id = t.nominal_id
LEFT JOIN top prev ON prev.offs = -1 AND prev.lpa = t.lpa AND prev.list = t.list
                  AND prev.nominal_id = t.nominal_id
WHERE t.offs = 0 AND (t.lpa = 'ALL' OR t.lpa IN (SELECT lpa FROM lpa_list))
UNION ALL
SELECT r.list_lpa, 'repeat', r.rank, r.nominal_id, r.lpa, NULL, NULL, r.victims,
       r.last_recorded_on, NULL, r.qualifying, prev.rank
FROM pm_repeat_ranked r
LEFT JOIN pm_repeat_ranked prev ON prev.offs = -1 AND prev.list_lpa = r.list_lpa
                               AND prev.nominal_id = r.nominal_id
WHERE r.offs = 0 AND (r.list_lpa = 'ALL' OR r.list_lpa IN (SELECT lpa FROM lpa_list));

DROP TABLE IF EXISTS month_crimes;
CREATE TABLE month_crimes AS
SELECT 'scored' AS kind, w.nominal_id, w.crime_id, w.ho_code, w.recorded_on, w.lpa, w.weight
FROM pm_in_window w
WHERE w.offs = 0
  AND w.nominal_id IN (SELECT nominal_id FROM month_entries WHERE list <> 'repeat')
UNION ALL
SELECT 'qualifying', q.nominal_id, q.crime_id, q.ho_code, q.recorded_on, q.lpa, wt.weight
FROM pm_rule_crimes q
JOIN pm_flagged f ON f.offs = q.offs AND f.nominal_id = q.nominal_id
LEFT JOIN weights wt ON wt.ho_code = q.ho_code
WHERE q.offs = 0;

DROP TABLE IF EXISTS month_orders;
CREATE TABLE month_orders AS
SELECT o.nominal_id, o.order_id, o.order_type, o.starts_on, o.ends_on
FROM orders o
JOIN pm_months m ON m.offs = 0
WHERE o.nominal_id IN (SELECT nominal_id FROM month_entries)
  AND o.starts_on <= m.as_at AND (o.ends_on IS NULL OR o.ends_on >= m.as_at);
