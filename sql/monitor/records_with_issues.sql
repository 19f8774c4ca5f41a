-- Records whose field keeps going wrong (`reconcile stats`, the original getBuyersWithFieldIssues).
-- Two signs, both from reconcile.field_sync_logs within the window:
--   * the field failed for the record: a row with success = false (kind conflict, invalid or error);
--   * the field "stayed different": plain runs wrote the SAME value into it more than once, so
--     something keeps putting another value back between runs (a trigger, another writer).
--     Writing different values (the sheet was edited twice) is normal and not counted.
-- A record is listed when such rows come from at least min_runs distinct runs.
-- Rows with record_key '*' are field-wide failures (a missing column), not records; they are
-- reported by the field figures instead.
-- Parameters: rule, since, field (or NULL), min_runs.
WITH logs AS (
    SELECT l.id, l.run_id, l.record_key, l.field_name, l.success, l.kind, l.new_value,
           l.error_message, l.synced_at, r.command
    FROM reconcile.field_sync_logs l
    JOIN reconcile.runs r ON r.id = l.run_id
    WHERE l.rule_name = %(rule)s
      AND l.synced_at >= %(since)s
      AND l.record_key <> '*'
      AND (%(field)s::text IS NULL OR l.field_name = %(field)s::text)
), rewrites AS (
    SELECT *
    FROM (SELECT w.*, count(*) OVER (PARTITION BY record_key, field_name, new_value) AS same_value_writes
          FROM logs w
          WHERE w.success AND w.kind = 'write' AND w.command = 'run') counted
    WHERE same_value_writes >= 2
), issues AS (
    SELECT id, run_id, record_key, field_name, success, kind, error_message, synced_at FROM logs WHERE NOT success
    UNION ALL
    SELECT id, run_id, record_key, field_name, success, kind, error_message, synced_at FROM rewrites
)
SELECT record_key,
       field_name,
       count(DISTINCT run_id)::int                                            AS runs,
       count(*) FILTER (WHERE kind = 'conflict')::int                         AS conflicts,
       count(*) FILTER (WHERE kind = 'invalid')::int                          AS invalid,
       count(*) FILTER (WHERE NOT success AND kind NOT IN ('conflict', 'invalid'))::int AS errors,
       count(*) FILTER (WHERE success)::int                                   AS rewrites,
       max(synced_at)                                                         AS last_seen,
       (array_agg(error_message ORDER BY synced_at DESC, id DESC)
            FILTER (WHERE error_message IS NOT NULL))[1]                      AS last_message
FROM issues
GROUP BY record_key, field_name
HAVING count(DISTINCT run_id) >= %(min_runs)s
ORDER BY runs DESC, record_key, field_name;
