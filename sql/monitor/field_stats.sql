-- Per-field figures of one rule over a window of finished runs (`reconcile stats`).
-- A field "failed" in a run when its field_stats row has errors > 0 (a missing sheet column,
-- a write the database refused: the engine counts those as errors). failure_rate is the share
-- of the window's runs in which the field failed. last_success looks at the whole history:
-- the latest run in which the field had no error and the run did not fail.
-- Parameters: rule, since (timestamptz), field (text or NULL for every field).
WITH windowed AS (
    SELECT fs.*, r.started_at
    FROM reconcile.field_stats fs
    JOIN reconcile.runs r ON r.id = fs.run_id
    WHERE fs.rule_name = %(rule)s
      AND r.status <> 'running'
      AND r.started_at >= %(since)s
      AND (%(field)s::text IS NULL OR fs.field_name = %(field)s::text)
), successes AS (
    SELECT fs.field_name, max(coalesce(r.finished_at, r.started_at)) AS last_success
    FROM reconcile.field_stats fs
    JOIN reconcile.runs r ON r.id = fs.run_id
    WHERE fs.rule_name = %(rule)s AND fs.errors = 0 AND r.status IN ('succeeded', 'partial')
    GROUP BY fs.field_name
)
SELECT w.field_name,
       count(*)::int                               AS runs,
       sum(w.compared)::bigint                     AS compared,
       sum(w.differing)::bigint                    AS differing,
       sum(w.written)::bigint                      AS written,
       count(*) FILTER (WHERE w.errors > 0)::int   AS failed,
       sum(w.errors)::bigint                       AS errors,
       sum(w.conflicts)::bigint                    AS conflicts,
       sum(w.invalid)::bigint                      AS invalid,
       max(w.started_at)                           AS last_run,
       s.last_success
FROM windowed w
LEFT JOIN successes s USING (field_name)
GROUP BY w.field_name, s.last_success
ORDER BY w.field_name;
