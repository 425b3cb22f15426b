-- API keys are a quota scope beside tenants and users (SPEC §11): their overrides are kept here like the others,
-- and the ledger says which key each row's usage came with (null for JWT calls), so per-key usage can be read and
-- per-key counters rebuilt.
ALTER TABLE quota_overrides DROP CONSTRAINT IF EXISTS quota_overrides_scope_check;
ALTER TABLE quota_overrides ADD CONSTRAINT quota_overrides_scope_check CHECK (scope IN ('tenant', 'user', 'key'));
ALTER TABLE usage_ledger ADD COLUMN IF NOT EXISTS key_id text;
CREATE INDEX IF NOT EXISTS usage_ledger_key_idx ON usage_ledger (key_id, bucket_start) WHERE key_id IS NOT NULL;
