-- Per-field figures of one rule over a window of finished runs (`reconcile stats`).
-- From reconcile.field_stats (one row per run and field): runs, compared, differing, written,
-- conflicts, invalid, errors, and failed_runs = runs in which the field had an error (a missing
-- sheet column, a write the database refused).
-- From reconcile.field_sync_logs: write attempts (kinds write, insert, conflict, error; an
-- unreadable cell is not an attempt) and failed = the attempts with success = false.
-- failure_rate (computed by the caller) = failed / attempts, as the rule schema describes it.
-- last_success looks at the whole history: the latest run in which the field had no error and
-- the run did not fail.
-- Parameters: rule, since (timestamptz), field (text or NULL for every field).
WITH window_runs AS (
    SELECT id, started_at
    FROM reconcile.runs
    WHERE rule_name = %(rule)s AND status <> 'running' AND started_at >= %(since)s
), figures AS (
    SELECT fs.field_name,
           count(*)::int                              AS runs,
           sum(fs.compared)::bigint                   AS compared,
           sum(fs.differing)::bigint                  AS differing,
           sum(fs.written)::bigint                    AS written,
           sum(fs.errors)::bigint                     AS errors,
           sum(fs.conflicts)::bigint                  AS conflicts,
           sum(fs.invalid)::bigint                    AS invalid,
           count(*) FILTER (WHERE fs.errors > 0)::int AS failed_runs,
           max(r.started_at)                          AS last_run
    FROM reconcile.field_stats fs
    JOIN window_runs r ON r.id = fs.run_id
    WHERE fs.rule_name = %(rule)s AND (%(field)s::text IS NULL OR fs.field_name = %(field)s::text)
    GROUP BY fs.field_name
), attempts AS (
    SELECT l.field_name,
           count(*)::bigint                           AS attempts,
           count(*) FILTER (WHERE NOT l.success)::bigint AS failed
    FROM reconcile.field_sync_logs l
    JOIN window_runs r ON r.id = l.run_id
    WHERE l.rule_name = %(rule)s AND l.kind IN ('write', 'insert', 'conflict', 'error')
      AND (%(field)s::text IS NULL OR l.field_name = %(field)s::text)
    GROUP BY l.field_name
), successes AS (
    SELECT fs.field_name, max(coalesce(r.finished_at, r.started_at)) AS last_success
    FROM reconcile.field_stats fs
    JOIN reconcile.runs r ON r.id = fs.run_id
    WHERE fs.rule_name = %(rule)s AND fs.errors = 0 AND r.status IN ('succeeded', 'partial')
    GROUP BY fs.field_name
)
SELECT f.field_name, f.runs, f.compared, f.differing, f.written,
       coalesce(a.attempts, 0) AS attempts, coalesce(a.failed, 0) AS failed,
       f.errors, f.conflicts, f.invalid, f.failed_runs, f.last_run, s.last_success
FROM figures f
LEFT JOIN attempts a USING (field_name)
LEFT JOIN successes s USING (field_name)
ORDER BY f.field_name;
