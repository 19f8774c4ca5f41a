-- The columns a named constraint of the target table covers, in column order (to say which
-- field a failed multi-column INSERT was about). Parameters: schema, table, constraint.
SELECT a.attname
  FROM pg_catalog.pg_constraint AS k
  JOIN pg_catalog.pg_class AS c ON c.oid = k.conrelid
  JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = ANY (k.conkey)
 WHERE n.nspname = %(schema)s AND c.relname = %(table)s AND k.conname = %(constraint)s
 ORDER BY a.attnum
