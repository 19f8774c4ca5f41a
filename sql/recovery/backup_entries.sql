-- What `reconcile rollback BACKUP_ID` restores: each backed-up field with the value to put back
-- (the backup's value) and the value the table must still hold (what the linked run wrote,
-- from field_sync_logs; the planned new_value when the backup was never linked to its run).
-- written = false: the linked run did not write this field (a conflict, a failure): nothing to undo.
-- Parameters: backup (uuid).
SELECT b.rule_name, b.table_schema, b.table_name, b.key_field, b.record_key, b.field_name,
       b.value                                                    AS restore_value,
       CASE WHEN b.run_id IS NULL THEN b.new_value ELSE l.new_value END AS expected_value,
       (b.run_id IS NULL OR l.id IS NOT NULL)                     AS written,
       b.run_id
FROM reconcile.backups b
LEFT JOIN LATERAL (
    SELECT fl.id, fl.new_value
    FROM reconcile.field_sync_logs fl
    WHERE fl.run_id = b.run_id AND fl.record_key = b.record_key AND fl.field_name = b.field_name
      AND fl.success AND fl.kind = 'write'
    ORDER BY fl.id DESC
    LIMIT 1
) l ON true
WHERE b.backup_id = %(backup)s
ORDER BY b.table_schema, b.table_name, b.field_name, b.record_key;
