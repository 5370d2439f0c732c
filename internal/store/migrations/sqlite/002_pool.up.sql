-- Every imported or edited element pool is kept whole, so history rows can
-- always be explained against the pool they were planned from.
CREATE TABLE pool_versions (
    number INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    content BLOB NOT NULL,
    counts TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX pool_versions_hash ON pool_versions (hash);
