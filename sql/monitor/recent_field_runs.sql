-- The last N completed runs of one rule that have a field_stats row for each field, newest first,
-- with what each run left unresolved (persistent drift) and what it compared (zero_compared).
-- A failed run applied nothing, so it says nothing about drift: the failure_rate and
-- no_success alerts speak for it.
-- "Left different" = differing rows not written, plus conflicts, invalid cells and errors.
-- Parameters: rule, n.
SELECT field_name, run_id, started_at, compared, left_different, keys_selected
FROM (
    SELECT fs.field_name, fs.run_id, r.started_at, fs.compared,
           greatest(fs.differing - fs.written, 0) + fs.conflicts + fs.invalid + fs.errors AS left_different,
           jsonb_array_length(coalesce(r.selectors -> 'keys', '[]'::jsonb)) > 0         AS keys_selected,
           row_number() OVER (PARTITION BY fs.field_name ORDER BY r.started_at DESC, r.id DESC) AS nth
    FROM reconcile.field_stats fs
    JOIN reconcile.runs r ON r.id = fs.run_id
    WHERE fs.rule_name = %(rule)s AND r.status NOT IN ('running', 'failed')
) ranked
WHERE nth <= %(n)s
ORDER BY field_name, nth;
