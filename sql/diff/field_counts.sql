-- Per-field figures of one diff: differing (changed) and invalid cells. Placeholder: diff.
SELECT field,
       count(*) FILTER (WHERE status = 'changed') AS differing,
       count(*) FILTER (WHERE status = 'invalid') AS invalid
FROM {diff}
WHERE field IS NOT NULL
GROUP BY field
