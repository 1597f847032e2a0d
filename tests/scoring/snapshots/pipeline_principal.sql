-- _linked
SELECT l.nkey, l.ckey, c.hkey, c.lkey, c.recorded_on, c.recorded_on AS basis_on, c.vkey,
               c.domestic_abuse, l.role <> 'eliminated' AS scored_role,
               l.role IN ('charged', 'convicted', 'suspect') AS rule_role
        FROM links l
        JOIN crimes c ON c.ckey = l.ckey
        WHERE c.status = 'recorded'
          AND c.recorded_on BETWEEN DATE '2022-06-01' AND DATE '2025-06-30'
          AND ((c.domestic_abuse OR c.hkey IN (16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 29, 30, 31, 32, 100, 101, 102, 103, 112, 113, 114, 115, 120)) AND c.recorded_on >= DATE '2024-06-01' OR c.hkey IN (16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 29, 30, 31, 32, 100, 101, 102, 103, 112, 113) AND c.recorded_on >= DATE '2022-06-01')

-- _in_window
WITH eligible AS (
            SELECT x.nkey, x.ckey, x.hkey, k.lc, x.recorded_on, x.basis_on, x.vkey, w.weight
            FROM _linked x
            JOIN _lpa_codes k ON k.lkey = x.lkey
            LEFT JOIN _weights w ON w.hkey = x.hkey
            WHERE x.scored_role
              AND (x.domestic_abuse OR x.hkey IN (16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 29, 30, 31, 32, 100, 101, 102, 103, 112, 113, 114, 115, 120))
              AND x.basis_on BETWEEN DATE '2024-06-01' AND DATE '2025-06-30'
        )
        SELECT m.month_index AS mi, x.nkey, x.ckey, x.hkey, x.lc, x.recorded_on, x.vkey,
               x.weight
        FROM _months m JOIN eligible x ON x.basis_on BETWEEN m.window_start AND m.as_at

-- _ranked
WITH base AS (SELECT s.*, s.principal AS lc FROM (
        WITH per_nominal AS (   -- one aggregate over integer keys for everybody
            SELECT mi, nkey,
                   sum(coalesce(weight, 0))::DECIMAL(18, 6) AS harm,
                   count(*)::INTEGER AS frequency,
                   max(recorded_on) AS last_recorded_on,
                   min(lc) AS lc_min, max(lc) AS lc_max
            FROM _in_window GROUP BY mi, nkey
        ), victims AS (         -- distinct known victims, counted in two cheap steps
            SELECT mi, nkey, count(*)::INTEGER AS victims
            FROM (SELECT DISTINCT mi, nkey, vkey FROM _in_window
                  WHERE vkey IS NOT NULL AND mi NOT IN (24304))
            GROUP BY mi, nkey
        ), shared AS (          -- nominals with crimes in several LPAs: pick the principal one
            SELECT w.mi, w.nkey, w.lc,
                   sum(coalesce(w.weight, 0)) AS lpa_harm, max(w.recorded_on) AS lpa_last
            FROM _in_window w
            SEMI JOIN (SELECT mi, nkey FROM per_nominal WHERE lc_min <> lc_max) m
              ON m.mi = w.mi AND m.nkey = w.nkey
            GROUP BY w.mi, w.nkey, w.lc
        ), principal AS (       -- largest harm, then latest recorded_on, then LPA name
            SELECT mi, nkey,
                   min({'h': -lpa_harm, 'd': -(lpa_last - DATE '1970-01-01'), 'l': lc}).l AS lc
            FROM shared GROUP BY mi, nkey
        )
        SELECT p.mi, p.nkey, o.nord, p.harm, p.frequency,
               CASE WHEN p.mi NOT IN (24304) THEN coalesce(v.victims, 0)::INTEGER END AS victims, p.last_recorded_on,
               coalesce(pr.lc, p.lc_min) AS principal
        FROM per_nominal p
        LEFT JOIN victims v ON v.mi = p.mi AND v.nkey = p.nkey
        LEFT JOIN principal pr ON pr.mi = p.mi AND pr.nkey = p.nkey
        JOIN nominal_order o ON o.nkey = p.nkey
    ) s 
        ), first_n AS (   -- months for movement only: the first 10 of each list
            SELECT mi, lc, unnest(arg_min(nkey, {'h': -harm, 'f': -frequency, 'd': -(last_recorded_on - DATE '1970-01-01'), 'n': nord}, 10) FILTER (WHERE harm > 0)) AS nkey
            FROM base WHERE mi IN (24304) GROUP BY mi, lc
            UNION
            SELECT mi, lc, unnest(arg_min(nkey, {'f': -frequency, 'h': -harm, 'd': -(last_recorded_on - DATE '1970-01-01'), 'n': nord}, 10)) AS nkey
            FROM base WHERE mi IN (24304) GROUP BY mi, lc
        )
        SELECT *, 
        CASE WHEN harm > 0 THEN row_number() OVER (
            PARTITION BY mi, lc, harm > 0 ORDER BY harm DESC, frequency DESC, last_recorded_on DESC, nord ASC) END::INTEGER AS harm_rank,
        row_number() OVER (PARTITION BY mi, lc ORDER BY frequency DESC, harm DESC, last_recorded_on DESC, nord ASC)::INTEGER
            AS frequency_rank
        FROM base WHERE mi NOT IN (24304)
        UNION ALL
        SELECT *, 
        CASE WHEN harm > 0 THEN row_number() OVER (
            PARTITION BY mi, lc, harm > 0 ORDER BY harm DESC, frequency DESC, last_recorded_on DESC, nord ASC) END::INTEGER AS harm_rank,
        row_number() OVER (PARTITION BY mi, lc ORDER BY frequency DESC, harm DESC, last_recorded_on DESC, nord ASC)::INTEGER
            AS frequency_rank
        FROM base b SEMI JOIN first_n f ON f.mi = b.mi AND f.lc = b.lc AND f.nkey = b.nkey

-- _top
WITH lpa_top AS (
            SELECT mi, lc, nkey, nord, harm, frequency, last_recorded_on,
                   harm_rank, frequency_rank
            FROM _ranked WHERE harm_rank <= 10 OR frequency_rank <= 10
        ), candidates AS (
            SELECT DISTINCT mi, nkey, nord, harm, frequency, last_recorded_on FROM lpa_top
        ), all_top AS (
            SELECT mi, 0 AS lc, nkey,
                   CASE WHEN harm > 0 THEN row_number() OVER (
                       PARTITION BY mi, harm > 0 ORDER BY harm DESC, frequency DESC, last_recorded_on DESC, nord ASC) END AS harm_rank,
                   row_number() OVER (PARTITION BY mi ORDER BY frequency DESC, harm DESC, last_recorded_on DESC, nord ASC)
                       AS frequency_rank
            FROM candidates
        ), lists AS (
            SELECT mi, lc, nkey, harm_rank, frequency_rank FROM lpa_top
            UNION ALL
            SELECT mi, lc, nkey, harm_rank, frequency_rank FROM all_top
        ), top AS (
            SELECT mi, lc, 'harm' AS list, harm_rank::INTEGER AS rank, nkey
            FROM lists WHERE harm_rank <= 10
            UNION ALL
            SELECT mi, lc, 'frequency', frequency_rank::INTEGER, nkey
            FROM lists WHERE frequency_rank <= 10
        )
        SELECT t.*, prev.rank AS prev_rank
        FROM top t
        LEFT JOIN top prev
          ON prev.mi = t.mi - 1 AND prev.lc = t.lc AND prev.list = t.list AND prev.nkey = t.nkey

-- _flag_crimes
WITH q AS (
            SELECT l.nkey, l.ckey, l.hkey, l.recorded_on, l.lkey, l.vkey, l.basis_on
            FROM _linked l
            WHERE l.rule_role AND l.hkey IN (16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 29, 30, 31, 32, 100, 101, 102, 103, 112, 113)
        ),
        candidates AS (   -- nominals that could meet the counts at some month
            SELECT nkey FROM q GROUP BY nkey
            HAVING count(*) >= 2
        ),
        in_window AS (
            SELECT m.month, q.nkey, q.ckey, q.hkey, q.recorded_on, q.lkey, q.vkey
            FROM rule_months m
            JOIN q ON q.basis_on BETWEEN (m.first_day - INTERVAL 35 MONTH)::DATE AND m.as_at
            WHERE q.nkey IN (SELECT nkey FROM candidates)
        ),
        per AS (
            SELECT month, nkey, count(*) AS n,
                   count(DISTINCT vkey) AS known_victims,
                   count(*) FILTER (WHERE vkey IS NULL) AS unknown_victims
            FROM in_window GROUP BY month, nkey
        ),
        flagged AS (
            SELECT per.month, per.nkey,
                   list_filter([
                       format('{} qualifying crimes (at least 2) in the 36 months to {}',
                              per.n, strftime(m.as_at, '%Y-%m-%d')),
                       format('{} distinct victims (at least 1)',
                              per.known_victims + per.unknown_victims),
                       CASE WHEN per.unknown_victims > 0 THEN format(
                           'victim unknown on {} crime(s), each counted as one more distinct victim',
                           per.unknown_victims) END,
                       NULL
                   ], lambda x: x IS NOT NULL) AS reasons
            FROM per
            JOIN rule_months m USING (month)
            
            WHERE per.n >= 2
              AND per.known_victims + per.unknown_victims >= 1
              AND true
        )
        SELECT f.month, f.nkey, f.reasons, w.ckey, w.hkey, w.recorded_on, w.lkey, w.vkey
        FROM flagged f JOIN in_window w USING (month, nkey)

-- _qualifying
SELECT m.month_index AS mi, f.nkey, f.ckey, f.hkey, k.lc, f.recorded_on, f.vkey,
               w.weight
        FROM _flag_crimes f
        JOIN _months m ON m.month = f.month
        JOIN _lpa_codes k ON k.lkey = f.lkey
        LEFT JOIN _weights w ON w.hkey = f.hkey

-- _repeat_scores
WITH per_lpa AS (
            SELECT mi, nkey, lc, count(*) AS n, max(recorded_on) AS last
            FROM _qualifying GROUP BY mi, nkey, lc
        ), pick AS (
            SELECT mi, nkey, min({'n': -n, 'd': -(last - DATE '1970-01-01'), 'l': lc}).l AS lc
            FROM per_lpa GROUP BY mi, nkey
        ), per_nominal AS (
            SELECT mi, nkey, count(*)::INTEGER AS qualifying,
                   count(DISTINCT vkey)::INTEGER AS victims,
                   max(recorded_on) AS last_recorded_on
            FROM _qualifying GROUP BY mi, nkey
        )
        SELECT q.mi, q.nkey, o.nord, pick.lc, q.qualifying, q.victims, q.last_recorded_on
        FROM per_nominal q
        JOIN pick USING (mi, nkey)
        JOIN nominal_order o ON o.nkey = q.nkey

-- _repeat
WITH ranked AS (   -- one row per nominal: its rank in its LPA's list and in ALL
            SELECT *,
                   row_number() OVER (PARTITION BY mi, lc ORDER BY qualifying DESC, victims DESC, last_recorded_on DESC, nord ASC)::INTEGER
                       AS rank,
                   row_number() OVER (PARTITION BY mi ORDER BY qualifying DESC, victims DESC, last_recorded_on DESC, nord ASC)::INTEGER
                       AS all_rank
            FROM _repeat_scores
        )
        SELECT r.mi, r.lc, r.rank, r.all_rank, r.nkey, r.qualifying, r.victims,
               r.last_recorded_on, reasons.reasons,
               CASE WHEN prev.lc = r.lc THEN prev.rank END AS prev_rank,
               prev.all_rank AS all_prev_rank
        FROM ranked r
        JOIN _months m ON m.month_index = r.mi
        JOIN (SELECT DISTINCT ON (month, nkey) month, nkey, reasons FROM _flag_crimes) reasons ON reasons.month = m.month AND reasons.nkey = r.nkey
        LEFT JOIN ranked prev ON prev.mi = r.mi - 1 AND prev.nkey = r.nkey

-- repeat rule
WITH q AS (
            SELECT l.nominal_id, l.crime_id, l.ho_code, l.recorded_on, l.lpa, l.victim_id, l.nkey, l.basis_on
            FROM rule_links l
            WHERE l.role IN ('suspect', 'charged', 'convicted') AND l.ho_code IN ('17A', '17B', '19C', '19D', '19E', '19F', '19G', '19H', '19J', '19K', '20A', '20B', '21', '22A', '22B', '23', '70', '71', '72', '73', '88A', '88C')
        ),
        candidates AS (   -- nominals that could meet the counts at some month
            SELECT nominal_id FROM q GROUP BY nominal_id
            HAVING count(*) >= 2
        ),
        in_window AS (
            SELECT m.month, q.nominal_id, q.crime_id, q.ho_code, q.recorded_on, q.lpa, q.victim_id, q.nkey
            FROM rule_months m
            JOIN q ON q.basis_on BETWEEN (m.first_day - INTERVAL 35 MONTH)::DATE AND m.as_at
            WHERE q.nominal_id IN (SELECT nominal_id FROM candidates)
        ),
        per AS (
            SELECT month, nominal_id, count(*) AS n,
                   count(DISTINCT victim_id) AS known_victims,
                   count(*) FILTER (WHERE victim_id IS NULL) AS unknown_victims
            FROM in_window GROUP BY month, nominal_id
        ),
        flagged AS (
            SELECT per.month, per.nominal_id,
                   list_filter([
                       format('{} qualifying crimes (at least 2) in the 36 months to {}',
                              per.n, strftime(m.as_at, '%Y-%m-%d')),
                       format('{} distinct victims (at least 1)',
                              per.known_victims + per.unknown_victims),
                       CASE WHEN per.unknown_victims > 0 THEN format(
                           'victim unknown on {} crime(s), each counted as one more distinct victim',
                           per.unknown_victims) END,
                       NULL
                   ], lambda x: x IS NOT NULL) AS reasons
            FROM per
            JOIN rule_months m USING (month)
            
            WHERE per.n >= 2
              AND per.known_victims + per.unknown_victims >= 1
              AND true
        )
        SELECT f.month, f.nominal_id, f.reasons, w.crime_id, w.ho_code, w.recorded_on, w.lpa, w.victim_id, w.nkey
        FROM flagged f JOIN in_window w USING (month, nominal_id)
