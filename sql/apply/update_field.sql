-- Compare-and-set write of one field from the run's staging table, logged in the same statement.
-- The stage holds every planned change; fi picks this field's rows and {staged} its typed value.
-- A row is written only while its current value still prints as the snapshot did (old_text);
-- otherwise it is a conflict: not written, logged with success = false.
-- Identifiers: {table} {key} {col} {stage} {staged}. Parameters: run_id, rule_name, field, fi.
WITH written AS (
    UPDATE {table} AS t
       SET {col} = s.{staged}
      FROM {stage} AS s
     WHERE s.fi = %(fi)s
       AND t.{key} = s.k
       AND t.{col}::text IS NOT DISTINCT FROM s.old_text
 RETURNING s.k
), logged AS (
    INSERT INTO reconcile.field_sync_logs
           (run_id, rule_name, record_key, field_name, success, old_value, new_value,
            error_message, kind, sheet_row)
    SELECT %(run_id)s, %(rule_name)s, s.record_key, %(field)s, w.k IS NOT NULL, s.old_text, s.new_text,
           CASE WHEN w.k IS NULL THEN 'conflict: value changed since snapshot' END,
           CASE WHEN w.k IS NULL THEN 'conflict' ELSE 'write' END,
           s.sheet_row
      FROM {stage} AS s
      LEFT JOIN written AS w ON w.k = s.k
     WHERE s.fi = %(fi)s
 RETURNING success, record_key, old_value, new_value, sheet_row
)
SELECT (SELECT count(*) FROM logged WHERE success) AS written,
       (SELECT coalesce(jsonb_agg(jsonb_build_array(record_key, old_value, new_value, sheet_row)
                                  ORDER BY record_key), '[]'::jsonb)
          FROM logged WHERE NOT success) AS conflicts
