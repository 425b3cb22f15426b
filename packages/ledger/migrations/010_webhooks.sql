-- 010: webhook delivery state (written by the gateway's dispatcher), so a restart neither resends nor loses one.

CREATE TABLE IF NOT EXISTS webhook_endpoints (
  webhook_id text        PRIMARY KEY,
  url        text        NOT NULL,
  -- Events recorded before an endpoint was first configured are not sent to it.
  since      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS webhook_deliveries (
  webhook_id      text        NOT NULL,
  event_id        bigint      NOT NULL,
  status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts        integer     NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  locked_until    timestamptz,
  last_status     integer,
  last_error      text,
  delivered_at    timestamptz,
  PRIMARY KEY (webhook_id, event_id)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due_idx ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS usage_events_type_idx ON usage_events (type, recorded_at);
