-- Diagnostic insert of the staged new rows low..high, to find which record the database
-- refuses after a failed run (engine.apply.failing_record); always rolled back.
-- Identifiers: {table} {key} {cols} {stage} {staged}. Parameters: low, high.
INSERT INTO {table} ({key}, {cols})
SELECT k, {staged}
  FROM {stage}
 WHERE n BETWEEN %(low)s AND %(high)s
