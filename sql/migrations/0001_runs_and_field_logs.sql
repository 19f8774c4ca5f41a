-- reconcile log schema, version 1: runs, field-level write/error logs, per-run field statistics.
-- These names and columns are a contract with users and monitoring: add columns, never rename.
CREATE SCHEMA IF NOT EXISTS reconcile;

-- Which migrations ran, once each (engine.runlog.ensure_schema, under an advisory lock).
CREATE TABLE IF NOT EXISTS reconcile.schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS reconcile.runs (
    id           bigserial PRIMARY KEY,
    rule_name    text        NOT NULL,
    rule_hash    text        NOT NULL,
    rule_path    text,
    command      text        NOT NULL DEFAULT 'run',          -- run | recover | rollback
    selectors    jsonb       NOT NULL DEFAULT '{}'::jsonb,    -- {"fields": [...], "keys": [...], "dry_run": bool}
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    status       text        NOT NULL DEFAULT 'running'
                 CHECK (status IN ('running', 'succeeded', 'partial', 'failed')),
    counts       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    error        text
);
CREATE INDEX IF NOT EXISTS runs_rule_started ON reconcile.runs (rule_name, started_at DESC);

CREATE TABLE IF NOT EXISTS reconcile.field_sync_logs (
    id            bigserial PRIMARY KEY,
    run_id        bigint      NOT NULL REFERENCES reconcile.runs (id) ON DELETE CASCADE,
    rule_name     text        NOT NULL,
    record_key    text        NOT NULL,
    field_name    text        NOT NULL,
    success       boolean     NOT NULL,
    old_value     text,                                       -- NULL kept as NULL
    new_value     text,
    error_message text,
    kind          text        NOT NULL DEFAULT 'write',       -- write | insert | conflict | invalid | error
    sheet_row     integer,
    synced_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS field_sync_logs_run ON reconcile.field_sync_logs (run_id);
CREATE INDEX IF NOT EXISTS field_sync_logs_rule_field ON reconcile.field_sync_logs (rule_name, field_name, synced_at DESC);
CREATE INDEX IF NOT EXISTS field_sync_logs_record ON reconcile.field_sync_logs (rule_name, record_key);

CREATE TABLE IF NOT EXISTS reconcile.field_stats (
    run_id     bigint  NOT NULL REFERENCES reconcile.runs (id) ON DELETE CASCADE,
    rule_name  text    NOT NULL,
    field_name text    NOT NULL,
    compared   integer NOT NULL DEFAULT 0,   -- sheet rows whose key matched a table row
    differing  integer NOT NULL DEFAULT 0,   -- of those, rows whose value differed
    written    integer NOT NULL DEFAULT 0,   -- field writes committed (updates and inserts)
    conflicts  integer NOT NULL DEFAULT 0,   -- compare-and-set lost to a concurrent edit
    invalid    integer NOT NULL DEFAULT 0,   -- cells a transform could not read
    errors     integer NOT NULL DEFAULT 0,   -- field skipped (column missing) or write failed
    error      text,                         -- why, when errors > 0
    PRIMARY KEY (run_id, field_name)
);
CREATE INDEX IF NOT EXISTS field_stats_rule_field ON reconcile.field_stats (rule_name, field_name);
