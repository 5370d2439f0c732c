-- Cluster-wide limits (issue 15): provider RPM/RPH/IPM/IPH and concurrency,
-- and the generation cap, shared by every node of one PostgreSQL database.
--
-- limit_slots are leased concurrency slots. A node renews the leases of
-- the slots it holds; a node that dies stops renewing, and its slots count
-- no more once expires_at passes, so nothing has to clean up after it.
CREATE TABLE limit_slots (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL -- µs since the epoch, PostgreSQL's clock
);
CREATE INDEX limit_slots_name ON limit_slots (name, expires_at);
CREATE INDEX limit_slots_holder ON limit_slots (holder);

-- limit_events is the sliding-window log: one row per granted call. Exact
-- windows, not a token bucket: a bucket of 20 per minute lets 39 calls
-- through in one minute (a full bucket, then the refill), and providers
-- count "per minute" as a sliding window.
CREATE TABLE limit_events (
    name TEXT NOT NULL,
    at BIGINT NOT NULL, -- µs since the epoch, PostgreSQL's clock
    requests INTEGER NOT NULL,
    images INTEGER NOT NULL
);
CREATE INDEX limit_events_name_at ON limit_events (name, at);

-- ludeng_limit_acquire takes a slot and records the call in one round trip,
-- or says how long to wait. Calls for one name are serialized by a
-- transaction-scoped advisory lock, so the check and the insert are atomic
-- across nodes; timestamps come from this server's clock, so node clock
-- skew does not matter. wait_ms is -1 when every slot is taken (poll), else
-- the time until the windows have room. margin_ms widens every window a
-- little so a call granted at the edge of a window cannot reach the
-- provider inside the previous one after network jitter.
CREATE FUNCTION ludeng_limit_acquire(
    p_name TEXT, p_holder TEXT, p_lease_ms BIGINT, p_images INTEGER,
    p_rpm INTEGER, p_rph INTEGER, p_ipm INTEGER, p_iph INTEGER, p_conc INTEGER, p_margin_ms BIGINT,
    OUT slot_id BIGINT, OUT wait_ms BIGINT) AS $$
DECLARE
    now_us BIGINT;
    lim INTEGER[] := ARRAY[p_rpm, p_rph, p_ipm, p_iph];
    size_us BIGINT[] := ARRAY[60000000, 3600000000, 60000000, 3600000000];
    is_img BOOLEAN[] := ARRAY[false, false, true, true];
    i INTEGER;
    n INTEGER;
    total BIGINT;
    win BIGINT;
    free_at BIGINT;
BEGIN
    -- Grants are short-lived bookkeeping: losing the last few milliseconds
    -- of them in a database crash costs nothing, while waiting for the WAL
    -- flush of every grant costs a disk sync per generation call.
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM pg_advisory_xact_lock(hashtextextended('ludeng_limit:' || p_name, 0));
    now_us := (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT;
    slot_id := 0;
    wait_ms := 0;
    IF p_conc > 0 THEN
        DELETE FROM limit_slots WHERE name = p_name AND expires_at <= now_us;
        IF (SELECT count(*) FROM limit_slots WHERE name = p_name) >= p_conc THEN
            wait_ms := -1;
            RETURN;
        END IF;
    END IF;
    IF p_rpm > 0 OR p_rph > 0 OR p_ipm > 0 OR p_iph > 0 THEN
        DELETE FROM limit_events WHERE name = p_name AND at <= now_us - 3600000000 - p_margin_ms * 1000;
    END IF;
    FOR i IN 1..4 LOOP
        CONTINUE WHEN lim[i] <= 0;
        win := size_us[i] + p_margin_ms * 1000;
        n := CASE WHEN is_img[i] THEN p_images ELSE 1 END;
        SELECT coalesce(sum(CASE WHEN is_img[i] THEN images ELSE requests END), 0) INTO total
            FROM limit_events WHERE name = p_name AND at > now_us - win;
        CONTINUE WHEN total + n <= lim[i];
        -- The oldest stamp whose expiry frees enough room.
        SELECT s.at INTO free_at FROM (
            SELECT at, sum(CASE WHEN is_img[i] THEN images ELSE requests END) OVER (ORDER BY at ROWS UNBOUNDED PRECEDING) AS freed
            FROM limit_events WHERE name = p_name AND at > now_us - win) s
            WHERE total - s.freed + n <= lim[i] ORDER BY s.at LIMIT 1;
        wait_ms := greatest(wait_ms, (coalesce(free_at, now_us) + win - now_us + 999) / 1000);
    END LOOP;
    IF wait_ms > 0 THEN
        RETURN;
    END IF;
    IF p_conc > 0 THEN
        INSERT INTO limit_slots (name, holder, expires_at) VALUES (p_name, p_holder, now_us + p_lease_ms * 1000)
            RETURNING id INTO slot_id;
    END IF;
    IF p_rpm > 0 OR p_rph > 0 OR p_ipm > 0 OR p_iph > 0 THEN
        INSERT INTO limit_events (name, at, requests, images) VALUES (p_name, now_us, 1, p_images);
    END IF;
END;
$$ LANGUAGE plpgsql;

-- Release and lease renewal, without waiting for the WAL flush either.
CREATE FUNCTION ludeng_limit_release(p_id BIGINT) RETURNS VOID AS $$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    DELETE FROM limit_slots WHERE id = p_id;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION ludeng_limit_renew(p_holder TEXT, p_lease_ms BIGINT) RETURNS VOID AS $$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    UPDATE limit_slots SET expires_at = (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT + p_lease_ms * 1000
        WHERE holder = p_holder;
END;
$$ LANGUAGE plpgsql;
