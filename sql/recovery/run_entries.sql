-- What `reconcile rollback --run RUN_ID` restores: every field the run wrote, back to the old
-- value it logged, provided the table still holds the value the run wrote.
-- Inserted rows (kind 'insert') are listed with written = false: a rollback never deletes rows.
-- Parameters: run (bigint).
SELECT l.record_key, l.field_name,
       l.old_value           AS restore_value,
       l.new_value           AS expected_value,
       (l.kind = 'write')    AS written,
       l.kind
FROM reconcile.field_sync_logs l
WHERE l.run_id = %(run)s AND l.success AND l.kind IN ('write', 'insert')
ORDER BY l.field_name, l.record_key, l.id;
