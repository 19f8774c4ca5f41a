-- Written values that the table no longer holds: compared typed (both sides through the
-- column type's text output, which also works for types without equality, like json).
-- A row gone since the write is a mismatch too. Identifiers: {table} {key} {col} {stage}.
SELECT s.record_key, t.{col}::text AS current, s.new_text
  FROM {stage} AS s
  LEFT JOIN {table} AS t ON t.{key} = s.k
 WHERE t.{key} IS NULL
    OR t.{col}::text IS DISTINCT FROM s.c0::text
 ORDER BY s.record_key
