-- Written values of one field that the table no longer holds, from the read-back stage (fi
-- picks the field's rows, {staged} its typed value): compared typed (both sides through the
-- column type's text output, which also works for types without equality, like json).
-- A row gone since the write is a mismatch too. engine.apply joins one such part per written
-- field with UNION ALL. Identifiers: {table} {key} {col} {stage} {staged}; {fi}: an integer.
SELECT s.fi, s.record_key, t.{col}::text AS current, s.new_text
  FROM {stage} AS s
  LEFT JOIN {table} AS t ON t.{key} = s.k
 WHERE s.fi = {fi}
   AND (t.{key} IS NULL OR t.{col}::text IS DISTINCT FROM s.{staged}::text)
