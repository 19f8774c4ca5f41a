-- The last N runs of one rule set, newest first, with the sums of their field statistics,
-- for the verify report's run history. Parameters: rule, n.
SELECT r.id, r.command, r.status, r.started_at, r.finished_at,
       coalesce(sum(fs.compared), 0)::int  AS compared,
       coalesce(sum(fs.differing), 0)::int AS differing,
       coalesce(sum(fs.written), 0)::int   AS written,
       coalesce(sum(fs.conflicts), 0)::int AS conflicts,
       coalesce(sum(fs.invalid), 0)::int   AS invalid,
       coalesce(sum(fs.errors), 0)::int    AS errors,
       r.error
FROM reconcile.runs r
LEFT JOIN reconcile.field_stats fs ON fs.run_id = r.id
WHERE r.rule_name = %(rule)s
GROUP BY r.id
ORDER BY r.started_at DESC, r.id DESC
LIMIT %(n)s
