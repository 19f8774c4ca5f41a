-- The sheet's keys after the key's transforms, typed like the table's key column, one row per
-- sheet row. A key that is NULL, empty or unreadable has record_key NULL and a key_error.
-- Placeholders: table, chain (the layered transform query: _row, the raw key cell, l0_v, l0_e),
-- raw_key (that cell's column), record_key (l0_v rendered as text).
CREATE OR REPLACE TEMP TABLE {table} AS
WITH keyed AS (
    SELECT _row, {raw_key} AS raw_key, l0_v AS key_value, {record_key} AS rendered, l0_e
    FROM ({chain})
),
checked AS (
    SELECT _row, raw_key,
           CASE WHEN l0_e IS NULL AND rendered <> '' THEN key_value END AS key_value,
           CASE WHEN l0_e IS NULL AND rendered <> '' THEN rendered END AS record_key,
           CASE WHEN l0_e IS NOT NULL THEN 'key: ' || l0_e
                WHEN rendered IS NULL OR rendered = '' THEN 'key is empty' END AS key_error
    FROM keyed
)
SELECT _row, record_key, key_value, key_error, raw_key,
       CASE WHEN key_value IS NULL THEN 0 ELSE count(*) OVER (PARTITION BY key_value) END AS occurrences
FROM checked
