-- Keys of the table snapshot that cannot identify a row: NULLs, and values on several rows.
-- Placeholders: target, the snapshot table, and key, its key column (both quoted).
-- Returns null_keys, duplicate_keys, duplicate_rows, sample.
WITH dup AS (
    SELECT {key} AS k, count(*) AS n
    FROM {target}
    WHERE {key} IS NOT NULL
    GROUP BY {key}
    HAVING count(*) > 1
)
SELECT
    (SELECT count(*) FROM {target} WHERE {key} IS NULL) AS null_keys,
    (SELECT count(*) FROM dup) AS duplicate_keys,
    (SELECT coalesce(sum(n), 0) FROM dup) AS duplicate_rows,
    (SELECT coalesce(list(k ORDER BY k)[1:5], []) FROM dup) AS sample
