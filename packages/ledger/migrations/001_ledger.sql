-- 001: the usage ledger (monthly partitions are created on demand by the flusher), flush bookkeeping,
-- notable events and the durable copy of quota overrides.

CREATE TABLE IF NOT EXISTS usage_ledger (
  tenant_id    text,
  user_id      text,
  meter        text        NOT NULL,
  model        text,
  amount       bigint      NOT NULL,
  -- Exact cost of this delta in USD (pico-dollars / 10^12); aggregate meters (tokens, cost) carry 0.
  cost_usd     numeric     NOT NULL DEFAULT 0,
  estimated    boolean     NOT NULL DEFAULT false,
  bucket_start timestamptz NOT NULL,
  batch_id     text        NOT NULL,
  -- Position of the row inside its batch: (batch_id, batch_row) is unique, for keyset pagination.
  batch_row    integer     NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (bucket_start);

-- Usage API and baseline queries filter by owner, meter and time range.
CREATE INDEX IF NOT EXISTS usage_ledger_tenant_idx ON usage_ledger (tenant_id, meter, bucket_start);
CREATE INDEX IF NOT EXISTS usage_ledger_user_idx ON usage_ledger (user_id, meter, bucket_start);

-- Exactly once: a claimed batch is written only if its id is new here, in the same transaction.
CREATE TABLE IF NOT EXISTS flush_batches (
  batch_id     text        PRIMARY KEY,
  committed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS flush_batches_committed_idx ON flush_batches (committed_at);

CREATE TABLE IF NOT EXISTS usage_events (
  id          bigserial   PRIMARY KEY,
  type        text        NOT NULL,
  tenant_id   text,
  user_id     text,
  meter       text,
  period      text,
  details     jsonb       NOT NULL DEFAULT '{}'::jsonb,
  occurred_at timestamptz NOT NULL,
  batch_id    text        NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS usage_events_tenant_idx ON usage_events (tenant_id, occurred_at);
CREATE INDEX IF NOT EXISTS usage_events_user_idx ON usage_events (user_id, occurred_at);
CREATE INDEX IF NOT EXISTS usage_events_occurred_idx ON usage_events (occurred_at);

-- Overrides live in the counter store for speed; this copy restores them when the store loses its data.
CREATE TABLE IF NOT EXISTS quota_overrides (
  scope      text        NOT NULL CHECK (scope IN ('tenant', 'user')),
  id         text        NOT NULL,
  tenant_id  text,
  meter      text        NOT NULL,
  period     text        NOT NULL CHECK (period IN ('minute', 'hour', 'day', 'month', 'total')),
  "limit"    bigint      NOT NULL CHECK ("limit" >= -1),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, id, meter, period)
);
