-- Every row of the field-level diff that says the table disagrees with the sheet, for
-- `reconcile verify`: the full relation, not the plan's samples, in sheet order.
-- Placeholder: {diff} (the plan's DuckDB diff, already narrowed to the selected keys).
-- Parameters (DuckDB, positional): 1 statuses to report, 2 the selected fields (row-level
-- statuses have no field and are always kept).
SELECT record_key, field, status, sheet_row, raw_value, sheet_value, table_value, message
FROM {diff}
WHERE status IN (SELECT unnest(?::VARCHAR[]))
  AND (field IS NULL OR field IN (SELECT unnest(?::VARCHAR[])))
ORDER BY sheet_row NULLS LAST, record_key, field NULLS FIRST
