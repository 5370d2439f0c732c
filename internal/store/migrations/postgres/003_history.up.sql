-- Generation history (issue 4): every combination a user planned or
-- generated. key is the hex SHA-256 of the canonical combination key string,
-- loo1..loo4 of its leave-one-out keys (county, month, road, elements
-- replaced by "*"). Only reserved and used rows block new plans. Keys are
-- hex digests: byte-wise collation "C" makes their comparisons memcmp.
CREATE TABLE history (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key TEXT COLLATE "C" NOT NULL,
    loo1 TEXT COLLATE "C" NOT NULL,
    loo2 TEXT COLLATE "C" NOT NULL,
    loo3 TEXT COLLATE "C" NOT NULL,
    loo4 TEXT COLLATE "C" NOT NULL,
    county_code TEXT NOT NULL,
    province_code TEXT NOT NULL,
    month INTEGER NOT NULL CHECK (month BETWEEN 1 AND 12),
    road TEXT NOT NULL,
    elements TEXT NOT NULL,
    pool_version TEXT NOT NULL DEFAULT '',
    batch_id TEXT,
    group_id TEXT,
    state TEXT NOT NULL CHECK (state IN ('reserved', 'used', 'released', 'archived')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Two blocking rows of one user never share a leave-one-out key: that is the
-- rule "no repeat, nothing one dimension away", enforced by the database so
-- that two batches planned at the same time cannot both take a combination.
-- The partial indexes hold only blocking rows, so they stay small however
-- much archived history a user has.
CREATE UNIQUE INDEX history_active_loo1 ON history (user_id, loo1) WHERE state IN ('reserved', 'used');
CREATE UNIQUE INDEX history_active_loo2 ON history (user_id, loo2) WHERE state IN ('reserved', 'used');
CREATE UNIQUE INDEX history_active_loo3 ON history (user_id, loo3) WHERE state IN ('reserved', 'used');
CREATE UNIQUE INDEX history_active_loo4 ON history (user_id, loo4) WHERE state IN ('reserved', 'used');
CREATE INDEX history_user_key ON history (user_id, key);
CREATE INDEX history_user_created ON history (user_id, created_at);
CREATE INDEX history_batch ON history (batch_id) WHERE batch_id IS NOT NULL;
