-- A temporary staging table typed like the target: k has the key column's type and c0..cN the
-- types of the given columns, so PostgreSQL parses the staged text itself and no type name is
-- ever formatted into SQL. {extra} adds text/integer columns (record_key, old_text, ...).
-- Dropped at the end of the transaction.
CREATE TEMP TABLE {stage} ON COMMIT DROP AS
SELECT {key} AS k{typed}{extra}
  FROM {table}
  WITH NO DATA
