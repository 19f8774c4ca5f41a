-- New rows from their staging table, and one log row per inserted field, in one statement.
-- {conflict} is "ON CONFLICT (key) DO NOTHING" when a unique index covers the key: a key the
-- application inserted since the snapshot is then a conflict, not an error.
-- Identifiers: {table} {key} {cols} {stage} {staged}; {fields}: VALUES of (field name, text
-- column) pairs, names as parameters. Parameters: run_id, rule_name, then the field names.
WITH inserted AS (
    INSERT INTO {table} ({key}, {cols})
    SELECT k, {staged} FROM {stage}
    {conflict}
    RETURNING {key} AS k
), logged AS (
    INSERT INTO reconcile.field_sync_logs
           (run_id, rule_name, record_key, field_name, success, old_value, new_value,
            error_message, kind, sheet_row)
    SELECT %(run_id)s, %(rule_name)s, s.record_key, f.name, i.k IS NOT NULL, NULL, f.value,
           CASE WHEN i.k IS NULL THEN 'conflict: key inserted since snapshot' END,
           CASE WHEN i.k IS NULL THEN 'conflict' ELSE 'insert' END,
           s.sheet_row
      FROM {stage} AS s
      LEFT JOIN inserted AS i ON i.k = s.k
     CROSS JOIN LATERAL (VALUES {fields}) AS f(name, value)
 RETURNING success, record_key, field_name, new_value, sheet_row
)
SELECT (SELECT count(DISTINCT record_key) FROM logged WHERE success) AS inserted_rows,
       (SELECT coalesce(jsonb_object_agg(field_name, n), '{{}}'::jsonb)
          FROM (SELECT field_name, count(*) AS n FROM logged WHERE success GROUP BY field_name) AS w) AS written,
       (SELECT coalesce(jsonb_agg(jsonb_build_array(record_key, field_name, new_value, sheet_row)
                                  ORDER BY record_key, field_name), '[]'::jsonb)
          FROM logged WHERE NOT success) AS conflicts
