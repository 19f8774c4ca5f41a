-- The target table and its columns, from the catalog (one row per column; no rows = no table).
-- Parameters: schema, table. Views and foreign tables count: they can be written through.
SELECT c.oid::regclass::text                    AS qualified,
       a.attname                                AS column_name,
       format_type(a.atttypid, a.atttypmod)     AS pg_type,
       NOT a.attnotnull                         AS nullable,
       a.atthasdef OR a.attidentity <> ''       AS has_default
  FROM pg_catalog.pg_class AS c
  JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE n.nspname = %(schema)s
   AND c.relname = %(table)s
   AND c.relkind IN ('r', 'p', 'v', 'f', 'm')
 ORDER BY a.attnum
