-- Move staged backup rows (reconcile_backup_stage, filled by COPY) into reconcile.backups.
-- A record retried alone after a failed batch keeps one row per field: the latest values win.
INSERT INTO reconcile.backups (backup_id, rule_name, table_schema, table_name, key_field, record_key,
                               field_name, value, new_value, field_type, run_id)
SELECT backup_id, rule_name, table_schema, table_name, key_field, record_key,
       field_name, value, new_value, field_type, run_id
FROM pg_temp.reconcile_backup_stage
ON CONFLICT (backup_id, record_key, field_name) DO UPDATE
SET value = EXCLUDED.value, new_value = EXCLUDED.new_value, field_type = EXCLUDED.field_type,
    run_id = EXCLUDED.run_id, created_at = now();
