-- Whether a unique, non-partial index covers exactly the key column (then ON CONFLICT (key)
-- works, and the table cannot hold duplicate keys). Parameters: schema, table, key.
SELECT EXISTS (
    SELECT 1
      FROM pg_catalog.pg_index AS i
      JOIN pg_catalog.pg_class AS c ON c.oid = i.indrelid
      JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
      JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
     WHERE n.nspname = %(schema)s AND c.relname = %(table)s AND a.attname = %(key)s
       AND i.indisunique AND i.indisvalid AND i.indnkeyatts = 1 AND i.indpred IS NULL
       AND i.indexprs IS NULL
)
