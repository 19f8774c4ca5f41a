-- The texts of a batch that PostgreSQL refused part of, read one by one: each goes into the
-- typed stage as a literal of no type, so the column's own input function reads it (and a
-- domain's CHECK judges it); a text it refuses is left out. The texts travel in a table,
-- never in this statement. Tables: pg_temp.reconcile_read_text (n, v text), pg_temp.reconcile_read (n, v typed).
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT n, v FROM pg_temp.reconcile_read_text LOOP
        BEGIN
            EXECUTE format('INSERT INTO pg_temp.reconcile_read (n, v) VALUES (%s, %L)', r.n, r.v);
        EXCEPTION WHEN others THEN
            NULL;  -- refused: read as no value
        END;
    END LOOP;
END
$$
