-- Serving processes ("nodes") and their heartbeats. A node that stops
-- heartbeating is dead: another node claims its row (DELETE … RETURNING, so
-- exactly one does) and hands its running jobs and images back to the queue.
-- A clean stop deletes the node's own row, so a row left behind by the
-- previous process on a single-node SQLite database means it crashed.
CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    hostname TEXT NOT NULL,
    pid INTEGER NOT NULL,
    version TEXT NOT NULL DEFAULT '',
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);
CREATE INDEX nodes_heartbeat ON nodes (heartbeat_at);
