-- Row-level figures of one diff. Placeholders: sheet_keys, target, diff, row_counts.
SELECT
    (SELECT count(*) FROM {sheet_keys}) AS sheet_rows,
    (SELECT count(*) FROM {target}) AS table_rows,
    (SELECT count(*) FROM {sheet_keys} WHERE occurrences = 1) - (SELECT new_rows FROM {row_counts}) AS matched_rows,
    (SELECT count(*) FROM {sheet_keys} WHERE occurrences = 1) AS unique_keys,
    (SELECT count(DISTINCT key_value) FROM {sheet_keys} WHERE occurrences > 1) AS duplicate_keys,
    (SELECT count(*) FROM {sheet_keys} WHERE occurrences > 1) AS duplicate_rows,
    (SELECT count(*) FROM {sheet_keys} WHERE occurrences = 0) AS null_keys,
    (SELECT count(*) FROM {diff} WHERE status = 'missing_row') AS missing_rows,
    (SELECT count(DISTINCT record_key) FROM {diff} WHERE status = 'changed') AS changed_rows,
    (SELECT count(*) FROM {diff} WHERE status = 'invalid') AS invalid
