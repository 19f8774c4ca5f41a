-- Columns whose ::text is NOT the type's output function: boolean::text is 'true' where COPY
-- prints 't', char(n)::text drops the padding, inet::text keeps the /32. Only these are cast in
-- the snapshot; every other column is copied as its type prints, which is exactly its ::text
-- (and saves a cast per value). Domains are judged by their base type.
-- Parameters: schema, table, columns (text[]).
SELECT a.attname
  FROM pg_catalog.pg_attribute AS a
  JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
 WHERE n.nspname = %(schema)s AND c.relname = %(table)s
   AND a.attname = ANY(%(columns)s::text[])
   AND EXISTS (SELECT 1 FROM pg_catalog.pg_cast AS k
                WHERE k.castsource IN (a.atttypid, t.typbasetype)
                  AND k.casttarget = 'pg_catalog.text'::regtype
                  AND k.castmethod = 'f')
