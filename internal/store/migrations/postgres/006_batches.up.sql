-- Batches (one user request) → groups (one combination each) → images (one
-- variant each), and the per-batch event log. Every state change of a batch,
-- group or image is written together with an event whose seq is the batch's
-- next event_seq, in the same transaction.
CREATE TABLE batches (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    upload_id TEXT NOT NULL,
    mode TEXT NOT NULL,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 2,
    seed BIGINT NOT NULL DEFAULT 0,
    params TEXT NOT NULL DEFAULT '{}',
    plan TEXT NOT NULL DEFAULT '{}',
    estimate_micros BIGINT NOT NULL DEFAULT 0,
    cap_micros BIGINT,
    message TEXT NOT NULL DEFAULT '',
    event_seq BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
CREATE INDEX batches_user ON batches (user_id, created_at);
CREATE INDEX batches_upload ON batches (upload_id);
CREATE INDEX batches_status ON batches (status);

CREATE TABLE batch_groups (
    id TEXT PRIMARY KEY,
    batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    key TEXT NOT NULL,
    combination TEXT NOT NULL,
    scene TEXT NOT NULL,
    status TEXT NOT NULL,
    UNIQUE (batch_id, idx)
);

CREATE TABLE images (
    id TEXT PRIMARY KEY,
    batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES batch_groups (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    variant TEXT NOT NULL,
    prompt TEXT NOT NULL DEFAULT '',
    prompt_source TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    qc_tries INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    qc TEXT NOT NULL DEFAULT '[]',
    result_key TEXT NOT NULL DEFAULT '',
    mime TEXT NOT NULL DEFAULT '',
    width INTEGER NOT NULL DEFAULT 0,
    height INTEGER NOT NULL DEFAULT 0,
    bytes BIGINT NOT NULL DEFAULT 0,
    provider TEXT NOT NULL DEFAULT '',
    cost_micros BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (group_id, idx)
);
CREATE INDEX images_batch ON images (batch_id, status);

CREATE TABLE batch_events (
    batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (batch_id, seq)
);
