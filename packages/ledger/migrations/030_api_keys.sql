-- Tollgate API keys (SPEC §11): only the SHA-256 of the secret is kept, with its first 8 characters for display.
-- changed_at moves on every revocation or rotation (never on last_used_at), so every gateway can poll for what
-- changed and drop it from its cache.
CREATE TABLE IF NOT EXISTS api_keys (
  id           text PRIMARY KEY,
  prefix       text NOT NULL,
  hash         text NOT NULL UNIQUE,
  name         text NOT NULL,
  tenant_id    text,
  user_id      text,
  tier         text,
  role         text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz,
  revoked_at   timestamptz,
  last_used_at timestamptz,
  changed_at   timestamptz NOT NULL DEFAULT now(),
  rotated_from text
);
CREATE INDEX IF NOT EXISTS api_keys_changed_idx ON api_keys (changed_at);
CREATE INDEX IF NOT EXISTS api_keys_owner_idx ON api_keys (tenant_id, user_id);
