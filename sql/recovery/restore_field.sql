-- Compare-and-set restore of one column from the typed staging table pg_temp.reconcile_restore
-- (record_key, restore_value, expected_value: typed like the table's key and column, filled by COPY).
-- A row is restored when its current value still prints like the expected one (both sides go
-- through the column's type, so 1.2 and 1.20 in a numeric(10,2) agree), or when forced.
-- A row that already holds the value to restore is left untouched ('already'): rolling back
-- twice is harmless. Rows are locked first so the value reported as current is the one overwritten.
-- Identifiers: {table} (schema-qualified), {key}, {col}. Parameters: force (boolean).
WITH current_rows AS (
    SELECT s.record_key, t.{col}::text AS current_value, s.expected_value::text AS expected_value,
           s.restore_value, t.{col}::text IS NOT DISTINCT FROM s.restore_value::text AS already
    FROM pg_temp.reconcile_restore s
    JOIN {table} t ON t.{key} = s.record_key
    FOR UPDATE OF t
), updated AS (
    UPDATE {table} t
    SET {col} = c.restore_value
    FROM current_rows c
    WHERE t.{key} = c.record_key
      AND NOT c.already
      AND (%(force)s OR c.current_value IS NOT DISTINCT FROM c.expected_value)
    RETURNING t.{key} AS record_key
)
SELECT c.record_key::text, c.current_value, c.expected_value, c.restore_value::text,
       CASE WHEN c.already THEN 'already' WHEN u.record_key IS NOT NULL THEN 'restored' ELSE 'conflict' END
FROM current_rows c
LEFT JOIN updated u ON u.record_key = c.record_key;
