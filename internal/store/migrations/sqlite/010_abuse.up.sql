-- Abuse resistance (issue 18). A per-user generation that every signed link
-- carries: logging out everywhere, changing the password and disabling the
-- account bump it, which voids the links already handed out. Additive: the
-- previous binary ignores the column (its links carry no generation and are
-- read as generation 0).
ALTER TABLE users ADD COLUMN link_generation INTEGER NOT NULL DEFAULT 0;
