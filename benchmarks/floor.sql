-- The floor (SPEC section 9): the bare aggregates a month's output cannot do without, in DuckDB
-- on harmrank's own database file. Per nominal: the sum of weights and the count of eligible
-- crimes in the 12-month window of M and of M-1 (harm and frequency, and the previous month
-- that movement compares with), and the count of crimes that qualify for the default repeat
-- rule (rasso-repeat-interim) in the 36 months to M and to M-1. No attribution, ranking,
-- explanation or storage.
--
-- Parameters: $p_window_start (first day of the window of M-1), $m_window_start, $p_as_at,
-- $m_as_at (last days of M-1 and M), $p_rule_start, $m_rule_start (first days of the 36-month
-- rule windows). Reference tables (temporary, made by benchmarks/floor.py): floor_weights
-- (ho_code, weight DECIMAL(18,6)), floor_sets (set_name, ho_code).
WITH eligible AS (
    SELECT l.nominal_id,
           sum(coalesce(w.weight, 0)) FILTER (WHERE c.recorded_on >= $m_window_start) AS harm_m,
           count(*) FILTER (WHERE c.recorded_on >= $m_window_start) AS frequency_m,
           sum(coalesce(w.weight, 0)) FILTER (WHERE c.recorded_on <= $p_as_at) AS harm_p,
           count(*) FILTER (WHERE c.recorded_on <= $p_as_at) AS frequency_p
    FROM crimes c
    JOIN links l ON l.crime_id = c.crime_id
    LEFT JOIN floor_weights w ON w.ho_code = c.ho_code
    WHERE c.recorded_on BETWEEN $p_window_start AND $m_as_at
      AND c.status = 'recorded'
      AND l.role <> 'eliminated'
      AND (c.domestic_abuse
           OR c.ho_code IN (SELECT ho_code FROM floor_sets WHERE set_name = 'vawg'))
    GROUP BY l.nominal_id
), qualifying AS (
    SELECT l.nominal_id,
           count(*) FILTER (WHERE c.recorded_on >= $m_rule_start) AS qualifying_m,
           count(*) FILTER (WHERE c.recorded_on <= $p_as_at) AS qualifying_p
    FROM crimes c
    JOIN links l ON l.crime_id = c.crime_id
    WHERE c.recorded_on BETWEEN $p_rule_start AND $m_as_at
      AND c.status = 'recorded'
      AND l.role IN ('suspect', 'charged', 'convicted')
      AND c.ho_code IN (SELECT ho_code FROM floor_sets WHERE set_name = 'rasso')
    GROUP BY l.nominal_id
)
SELECT coalesce(e.nominal_id, q.nominal_id) AS nominal_id,
       e.harm_m, e.frequency_m, e.harm_p, e.frequency_p, q.qualifying_m, q.qualifying_p
FROM eligible e
FULL JOIN qualifying q ON q.nominal_id = e.nominal_id
