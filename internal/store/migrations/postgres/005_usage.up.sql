-- One row per provider call, written 'pending' before the call and settled
-- after it; rows still pending after a crash become 'unknown' and count as
-- spent (the provider may have billed them).
CREATE TABLE usage_ledger (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL DEFAULT '',
    user_id TEXT,
    batch_id TEXT,
    group_id TEXT,
    image_id TEXT,
    provider TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    operation TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL CHECK (status IN ('pending', 'settled', 'unknown')),
    outcome TEXT NOT NULL DEFAULT '',
    error_code TEXT NOT NULL DEFAULT '',
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    images INTEGER NOT NULL DEFAULT 0,
    estimated_cost_micros BIGINT NOT NULL DEFAULT 0,
    cost_micros BIGINT NOT NULL DEFAULT 0,
    latency_ms BIGINT NOT NULL DEFAULT 0,
    started_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX usage_ledger_user_time ON usage_ledger (user_id, started_at);
CREATE INDEX usage_ledger_batch ON usage_ledger (batch_id);
CREATE INDEX usage_ledger_pending ON usage_ledger (status) WHERE status = 'pending';
