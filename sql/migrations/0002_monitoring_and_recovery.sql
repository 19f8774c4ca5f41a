-- reconcile log schema, version 2: alerts, backups before repairs, and recovery logs.
-- These names and columns are a contract with users and monitoring: add columns, never rename.
CREATE SCHEMA IF NOT EXISTS reconcile;

-- One row per alert episode: opened when a threshold is crossed, kept (last_seen, last_sent)
-- while it stays crossed, closed (resolved_at) when it no longer is. A new episode of the
-- same alert (same fingerprint) after a resolution gets a new row.
CREATE TABLE IF NOT EXISTS reconcile.alerts (
    id            bigserial   PRIMARY KEY,
    rule_name     text        NOT NULL,
    kind          text        NOT NULL
                  CHECK (kind IN ('failure_rate', 'persistent_drift', 'zero_compared', 'no_success')),
    field_name    text,                                    -- NULL for rule-level alerts (no_success)
    fingerprint   text        NOT NULL,                    -- rule:kind:field, the identity of "the same alert"
    message       text        NOT NULL,
    value         double precision,                        -- the measured figure
    threshold     double precision,                        -- the limit from the rule file's monitoring
    run_id        bigint      REFERENCES reconcile.runs (id) ON DELETE SET NULL,  -- last run that saw it
    first_seen    timestamptz NOT NULL DEFAULT now(),
    last_seen     timestamptz NOT NULL DEFAULT now(),
    last_sent     timestamptz,                             -- NULL: not delivered yet
    resolved_at   timestamptz,                             -- NULL: still firing
    resolved_sent timestamptz                              -- when the resolution was announced
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_open_fingerprint ON reconcile.alerts (fingerprint) WHERE resolved_at IS NULL;
CREATE INDEX IF NOT EXISTS alerts_rule ON reconcile.alerts (rule_name, first_seen DESC);

-- The table's values before a recover or rollback wrote over them, committed before the write.
-- The backup knows its table and key column, so a rollback needs no rule file.
CREATE TABLE IF NOT EXISTS reconcile.backups (
    backup_id    uuid        NOT NULL,
    rule_name    text        NOT NULL,
    table_schema text        NOT NULL,
    table_name   text        NOT NULL,
    key_field    text        NOT NULL,
    record_key   text        NOT NULL,                     -- the key as PostgreSQL prints it
    field_name   text        NOT NULL,
    value        text,                                     -- the old value as PostgreSQL prints it; NULL kept as NULL
    new_value    text,                                     -- the value the write planned
    field_type   text,                                     -- format_type() of the column, for readers
    run_id       bigint      REFERENCES reconcile.runs (id) ON DELETE SET NULL,  -- the run that wrote over it
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (backup_id, record_key, field_name)
);
CREATE INDEX IF NOT EXISTS backups_run ON reconcile.backups (run_id);

-- One row per `reconcile recover` (the original buyer_data_recovery_logs, generalised).
CREATE TABLE IF NOT EXISTS reconcile.data_recovery_logs (
    id            bigserial   PRIMARY KEY,
    rule_name     text        NOT NULL,
    record_keys   text[]      NOT NULL,                    -- the keys asked for; empty with all_inconsistent
    field_names   text[]      NOT NULL,                    -- the fields asked for; empty = every mapped field
    backup_id     uuid,                                    -- NULL when there was nothing to write
    success_count integer     NOT NULL DEFAULT 0,          -- records whose every planned write committed
    failure_count integer     NOT NULL DEFAULT 0,          -- records with a conflict, invalid cell or failed write
    executed_at   timestamptz NOT NULL DEFAULT now(),
    all_inconsistent boolean  NOT NULL DEFAULT false,
    run_ids       bigint[]    NOT NULL DEFAULT '{}',       -- the engine runs that did the writes
    failures      jsonb       NOT NULL DEFAULT '[]'::jsonb -- [{"record_key", "field", "kind", "message"}]
);
CREATE INDEX IF NOT EXISTS data_recovery_logs_rule ON reconcile.data_recovery_logs (rule_name, executed_at DESC);
