-- Tables a missing target may have meant: the same name in another schema, or any table of the
-- schema that was searched (the caller ranks them by similarity). Parameters: schema, table.
SELECT n.nspname AS schema_name, c.relname AS table_name
  FROM pg_catalog.pg_class AS c
  JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'f', 'm')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'reconcile')
   AND n.nspname NOT LIKE 'pg\_toast%%'
   AND (n.nspname = %(schema)s OR lower(c.relname) = lower(%(table)s))
 ORDER BY 1, 2
