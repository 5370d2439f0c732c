-- Cluster-wide limits live in PostgreSQL (see the postgres migration 011).
-- A SQLite database has one serving process, which keeps the in-process
-- limiter; these tables keep the two schemas alike and stay empty.
CREATE TABLE limit_slots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE TABLE limit_events (
    name TEXT NOT NULL,
    at BIGINT NOT NULL,
    requests INTEGER NOT NULL,
    images INTEGER NOT NULL
);
