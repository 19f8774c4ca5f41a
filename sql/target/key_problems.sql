-- NULL and duplicate keys in the target table, counted in one scan, with up to 5 sample keys.
-- {table} and {key} are identifiers filled in by engine.target.check_table_keys.
WITH counted AS (
    SELECT {key}::text AS k, count(*) AS n
      FROM {table}
     GROUP BY {key}
), dups AS (
    SELECT k, n FROM counted WHERE k IS NOT NULL AND n > 1
)
SELECT coalesce((SELECT n FROM counted WHERE k IS NULL), 0)            AS null_keys,
       (SELECT count(*) FROM dups)                                      AS duplicate_keys,
       coalesce((SELECT sum(n) FROM dups), 0)                           AS duplicate_rows,
       coalesce((SELECT array_agg(k ORDER BY k)
                   FROM (SELECT k FROM dups ORDER BY k LIMIT 5) AS s), '{{}}') AS sample
