-- The floor (SPEC section 9): the bare aggregates a month's output cannot do without, in DuckDB
-- on harmrank's own database file. Per nominal: the sum of weights and the count of eligible
-- crimes in the 12-month window of M and of M-1 (harm and frequency, and the previous month
-- that movement compares with), and the count of crimes that qualify for the default repeat
-- rule (rasso-repeat-interim) in the 36 months to M and to M-1. No attribution, ranking,
-- explanation or storage.
--
-- One scan of the crimes recorded from the start of M-1's 36-month rule window to the end of M,
-- joined once to the links, on the integer keys harmrank's engine uses too (crime and nominal
-- keys; the ids are looked up for the cross-check after the clock stops). Eligible: status recorded, VAWG (code in the set or domestic-abuse
-- flag), role not eliminated. Qualifying: status recorded, RASSO code, role suspect, charged or
-- convicted. Roles are exactly suspect, charged, convicted and eliminated (ingest refuses any
-- other), so both conditions drop the eliminated links and nothing else.
--
-- Parameters: $p_window_start (first day of the window of M-1), $m_window_start, $p_as_at,
-- $m_as_at (last days of M-1 and M), $p_rule_start, $m_rule_start (first days of the 36-month
-- rule windows). Reference tables (temporary, made by benchmarks/floor.py): floor_weights
-- (ho_code, weight DECIMAL(18,6)), floor_sets (set_name, ho_code).
SELECT l.nkey,
       sum(coalesce(w.weight, 0)) FILTER (WHERE c.vawg AND c.recorded_on >= $m_window_start)
           AS harm_m,
       count(*) FILTER (WHERE c.vawg AND c.recorded_on >= $m_window_start) AS frequency_m,
       sum(coalesce(w.weight, 0)) FILTER (WHERE c.vawg AND c.recorded_on BETWEEN $p_window_start
                                                                           AND $p_as_at)
           AS harm_p,
       count(*) FILTER (WHERE c.vawg AND c.recorded_on BETWEEN $p_window_start AND $p_as_at)
           AS frequency_p,
       count(*) FILTER (WHERE c.rasso AND c.recorded_on >= $m_rule_start) AS qualifying_m,
       count(*) FILTER (WHERE c.rasso AND c.recorded_on <= $p_as_at) AS qualifying_p
FROM (
    SELECT ckey, ho_code, recorded_on,
           recorded_on >= $p_window_start
             AND (domestic_abuse
                  OR ho_code IN (SELECT ho_code FROM floor_sets WHERE set_name = 'vawg')) AS vawg,
           ho_code IN (SELECT ho_code FROM floor_sets WHERE set_name = 'rasso') AS rasso
    FROM crimes
    WHERE recorded_on BETWEEN $p_rule_start AND $m_as_at
      AND status = 'recorded'
) c
JOIN links l ON l.ckey = c.ckey
LEFT JOIN floor_weights w ON w.ho_code = c.ho_code
WHERE (c.vawg OR c.rasso)
  AND l.role <> 'eliminated'
GROUP BY l.nkey
