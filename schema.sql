-- PulseStream storage schema (DESIGN.md section 7), PostgreSQL 13 or later, no extensions.
--
-- Idempotent: every statement is IF NOT EXISTS, CREATE OR REPLACE or ON CONFLICT, so running
-- this file again (at every deploy, from every service) is harmless. The whole file is one
-- transaction serialized by an advisory lock, so two processes applying it at once cannot race
-- on catalog entries. Apply with `psql -v ON_ERROR_STOP=1 -f schema.sql` or with a
-- non-transactional session (the file carries its own BEGIN/COMMIT).

BEGIN;

SELECT pg_advisory_xact_lock(hashtext('pulsestream.schema'));

-- Tenants. API keys are never stored in clear: api_key_hash is the lower-case hex SHA-256 of the
-- key, api_key_prefix its first characters (16 for keys made by pulsestream-keys) (to recognise a key in listings and logs).
CREATE TABLE IF NOT EXISTS clients (
    id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name               text        NOT NULL,
    api_key_hash       text        NOT NULL UNIQUE
                                   CHECK (api_key_hash ~ '^[0-9a-f]{64}$'),
    api_key_prefix     text        NOT NULL,
    active             boolean     NOT NULL DEFAULT true,
    rate_limit_per_sec integer     NULL CHECK (rate_limit_per_sec > 0),
    created_at         timestamptz NOT NULL DEFAULT now()
);

-- Development client: key 'ps_live_test_key_abc123xyz'
-- (printf '%s' ps_live_test_key_abc123xyz | sha256sum). Fixed id so demos and tests can name it.
INSERT INTO clients (id, name, api_key_hash, api_key_prefix)
VALUES ('00000000-0000-4000-8000-000000000001',
        'development',
        '51f4321081dc535ff4ef492df6551b44e95cdc0662f4d5d8f9610a6d1def2bb3',
        'ps_live_')
ON CONFLICT DO NOTHING;

-- Events, range-partitioned by UTC day on event_time. The primary key starts with client_id so a
-- tenant can never suppress another tenant's row by reusing its id, and it contains the partition
-- key, which PostgreSQL requires for a unique constraint on a partitioned table and which lets
-- INSERT ... ON CONFLICT DO NOTHING deduplicate redelivered records.
CREATE TABLE IF NOT EXISTS events (
    id          uuid             NOT NULL,
    client_id   uuid             NOT NULL,
    device_id   uuid             NOT NULL,
    event_type  text             NOT NULL,
    value       double precision NOT NULL,
    event_time  timestamptz      NOT NULL,
    metadata    jsonb,
    received_at timestamptz      NOT NULL,
    ingested_at timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, id, event_time)
) PARTITION BY RANGE (event_time);

-- "Latest events of a device" and "events of a type over time", per tenant.
CREATE INDEX IF NOT EXISTS events_client_device_time_idx
    ON events (client_id, device_id, event_time DESC);
CREATE INDEX IF NOT EXISTS events_client_type_time_idx
    ON events (client_id, event_type, event_time);

-- Catches every row no daily partition covers (late backlog, clock skew, far future), so no row
-- is ever rejected for lack of a partition.
CREATE TABLE IF NOT EXISTS events_default PARTITION OF events DEFAULT;

-- Creates the daily partitions events_pYYYYMMDD for UTC days today-1 .. today+days_ahead, and
-- drops daily partitions (and default-partition rows) older than retention_days (NULL: keep all).
-- Safe to call concurrently and repeatedly (the consumer calls it periodically). Rows that landed
-- in events_default for a day that now gets its own partition are moved into it, since PostgreSQL
-- refuses to create a partition whose range the default partition still holds rows of.
CREATE OR REPLACE FUNCTION pulsestream_ensure_partitions(days_ahead integer, retention_days integer)
RETURNS void
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    today      date := (now() AT TIME ZONE 'UTC')::date;
    part_day   date;
    part_name  text;
    lower_iso  text;
    upper_iso  text;
    locked     boolean := false;
    child      record;
    cutoff     date;
BEGIN
    IF days_ahead IS NULL OR days_ahead < 0 THEN
        RAISE EXCEPTION 'pulsestream_ensure_partitions: days_ahead must be >= 0, got %', days_ahead;
    END IF;
    IF retention_days IS NOT NULL AND retention_days < 1 THEN
        RAISE EXCEPTION 'pulsestream_ensure_partitions: retention_days must be >= 1, got %',
            retention_days;
    END IF;

    -- One maintainer at a time; the lock is held until the caller's transaction ends.
    PERFORM pg_advisory_xact_lock(hashtext('pulsestream.partitions'));

    FOR offset_days IN -1 .. days_ahead LOOP
        part_day := today + offset_days;
        part_name := 'events_p' || to_char(part_day, 'YYYYMMDD');
        CONTINUE WHEN to_regclass(quote_ident(part_name)) IS NOT NULL;

        IF NOT locked THEN
            -- Blocks writers (readers go on) so no row can reach events_default between the check
            -- below and the new partition's attachment. Taken on the parent first, in the same
            -- order as an INSERT, so this cannot deadlock with concurrent inserts.
            LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE;
            locked := true;
        END IF;

        lower_iso := to_char(part_day, 'YYYY-MM-DD') || ' 00:00:00+00';
        upper_iso := to_char(part_day + 1, 'YYYY-MM-DD') || ' 00:00:00+00';

        IF EXISTS (SELECT 1 FROM events_default
                   WHERE event_time >= lower_iso::timestamptz AND event_time < upper_iso::timestamptz)
        THEN
            EXECUTE format('CREATE TABLE %I (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                           part_name);
            EXECUTE format('WITH moved AS (DELETE FROM events_default'
                           ' WHERE event_time >= %L::timestamptz AND event_time < %L::timestamptz'
                           ' RETURNING *) INSERT INTO %I SELECT * FROM moved',
                           lower_iso, upper_iso, part_name);
            EXECUTE format('ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                           part_name, lower_iso, upper_iso);
        ELSE
            EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
                           part_name, lower_iso, upper_iso);
        END IF;
    END LOOP;

    IF retention_days IS NULL THEN
        RETURN;
    END IF;

    -- A partition for day d holds [d, d+1): it is wholly expired once d < today - retention_days.
    cutoff := today - retention_days;
    FOR child IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'events'::regclass
          AND c.relname ~ '^events_p[0-9]{8}$'
          AND to_date(substr(c.relname, 9), 'YYYYMMDD') < cutoff
        ORDER BY c.relname
    LOOP
        EXECUTE format('DROP TABLE %I', child.relname);
    END LOOP;

    DELETE FROM events_default WHERE event_time < (cutoff::timestamp AT TIME ZONE 'UTC');
END;
$fn$;

SELECT pulsestream_ensure_partitions(3, 14);

COMMIT;
