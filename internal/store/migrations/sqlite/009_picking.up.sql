-- The operator's day after a batch (issue 17): a batch name and an archive
-- mark, starred images, earlier versions of regenerated images, and a post
-- kit (Xiaohongshu note draft) per group. Additive only: the previous binary
-- ignores these columns and tables.
ALTER TABLE batches ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE batches ADD COLUMN archived_at BIGINT;

-- One row per starred image (unstarring deletes it).
CREATE TABLE image_stars (
    image_id TEXT PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
    batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
CREATE INDEX image_stars_batch ON image_stars (batch_id);

-- Every result an image has had once it was regenerated: the images row
-- holds the selected one, this table all of them (the selected included),
-- so selecting an earlier version is a copy back, never a loss.
CREATE TABLE image_versions (
    id TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    result_key TEXT NOT NULL,
    mime TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    bytes BIGINT NOT NULL,
    provider TEXT NOT NULL DEFAULT '',
    prompt TEXT NOT NULL DEFAULT '',
    variant TEXT NOT NULL DEFAULT '{}',
    instruction TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    UNIQUE (image_id, result_key)
);
CREATE INDEX image_versions_batch ON image_versions (batch_id);

-- The post kit of a group: title, body and hashtags (a JSON array), where
-- it came from (deepseek, template, edited) and the tone asked for.
CREATE TABLE group_notes (
    group_id TEXT PRIMARY KEY REFERENCES batch_groups (id) ON DELETE CASCADE,
    batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    tone TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    hashtags TEXT NOT NULL DEFAULT '[]',
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX group_notes_batch ON group_notes (batch_id);
