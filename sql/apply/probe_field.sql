-- Diagnostic write of one field for the staged rows low..high, to find which record the
-- database refuses after a failed run (engine.apply.failing_record); always rolled back.
-- Identifiers: {table} {key} {col} {stage}. Parameters: low, high.
UPDATE {table} AS t
   SET {col} = s.c0
  FROM {stage} AS s
 WHERE t.{key} = s.k
   AND s.n BETWEEN %(low)s AND %(high)s
