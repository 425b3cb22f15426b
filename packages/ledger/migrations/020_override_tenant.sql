-- A user's override belongs to one tenant (or to none): alice capped in acme and alice capped in globex are two
-- overrides, and rebuilding acme's counters restores only acme's. The key was (scope, id, meter, period), so the
-- second PUT replaced the first, and a rebuild restored either tenant's cap into both.
ALTER TABLE quota_overrides
  ADD COLUMN IF NOT EXISTS owner_tenant text
  GENERATED ALWAYS AS (CASE WHEN scope = 'user' THEN coalesce(tenant_id, '') ELSE '' END) STORED;
ALTER TABLE quota_overrides DROP CONSTRAINT IF EXISTS quota_overrides_pkey;
ALTER TABLE quota_overrides ADD PRIMARY KEY (scope, id, owner_tenant, meter, period);
