-- One row per user upload; the bytes live once per content hash in the blob
-- store (blobs/sha256/ab/cd/<hash>), so identical photos share storage.
CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    mime TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    bytes BIGINT NOT NULL,
    filename TEXT NOT NULL DEFAULT '',
    exif TEXT NOT NULL DEFAULT '{}',
    warnings TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL
);
CREATE INDEX uploads_user ON uploads (user_id, id);
CREATE INDEX uploads_sha ON uploads (sha256);
