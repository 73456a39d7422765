-- The peer of bench/side_by_side: an event store on PostgreSQL of the common
-- design (Marten / Eventuous style): one events table with a global position,
-- a stream-head table, and one server-side append function.
-- Applied to a freshly created database before every peer run.

CREATE TABLE streams (
  stream_id text PRIMARY KEY,
  version bigint NOT NULL  -- the stream's last version (1, 2, 3 …)
);

CREATE TABLE events (
  -- Global order. A sequence: it has gaps (rolled-back appends, cached
  -- values) and concurrent appends may interleave their values; the peer does
  -- not promise gapless positions (Kring does).
  global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  stream_id text NOT NULL,
  version bigint NOT NULL,
  event_id uuid NOT NULL,
  type text NOT NULL,
  occurred_at timestamptz NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  payload bytea NOT NULL,  -- the serialized kring.v1.Event, as the client sent it
  -- A reused event id fails the append with SQLSTATE 23505 naming this
  -- constraint ("event id already recorded").
  CONSTRAINT events_event_id_already_recorded UNIQUE (event_id),
  CONSTRAINT events_stream_version_unique UNIQUE (stream_id, version)
);

-- append_events: appends a batch to one stream in one transaction (the
-- caller's statement), or refuses it and changes nothing.
--   p_expected_version: -1 any, -2 the stream must not exist yet, >= 0 the
--   stream's current version must be exactly this (0: no events yet).
-- Returns the first and last version and the first and last global position
-- of the batch. Errors: 22023 bad arguments, 40001 wrong expected version
-- (the message names the current version), 23505 a reused event id.
CREATE FUNCTION append_events(p_stream_id text, p_expected_version bigint, p_event_ids uuid[], p_types text[],
                              p_occurred_at timestamptz[], p_payloads bytea[])
  RETURNS TABLE (first_version bigint, last_version bigint, first_position bigint, last_position bigint)
  LANGUAGE plpgsql AS $$
DECLARE
  n integer := coalesce(array_length(p_event_ids, 1), 0);
  current_version bigint;
BEGIN
  IF n = 0 THEN
    RAISE EXCEPTION 'append_events: event_ids must not be empty' USING ERRCODE = '22023';
  END IF;
  IF coalesce(array_length(p_types, 1), 0) <> n OR coalesce(array_length(p_occurred_at, 1), 0) <> n
     OR coalesce(array_length(p_payloads, 1), 0) <> n THEN
    RAISE EXCEPTION 'append_events: event_ids, types, occurred_at and payloads must have the same length'
      USING ERRCODE = '22023';
  END IF;
  IF p_expected_version < -2 THEN
    RAISE EXCEPTION 'append_events: expected_version must be -2, -1 or >= 0' USING ERRCODE = '22023';
  END IF;

  -- Lock the stream head (or create it, locked by this transaction).
  IF p_expected_version = -2 THEN
    INSERT INTO streams (stream_id, version) VALUES (p_stream_id, n) ON CONFLICT (stream_id) DO NOTHING;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'append_events: wrong expected version: the stream exists' USING ERRCODE = '40001';
    END IF;
    current_version := 0;
  ELSE
    SELECT s.version INTO current_version FROM streams s WHERE s.stream_id = p_stream_id FOR UPDATE;
    IF NOT FOUND THEN
      IF p_expected_version > 0 THEN
        RAISE EXCEPTION 'append_events: wrong expected version %: the stream does not exist', p_expected_version
          USING ERRCODE = '40001';
      END IF;
      INSERT INTO streams (stream_id, version) VALUES (p_stream_id, n);
      current_version := 0;
    ELSE
      IF p_expected_version >= 0 AND current_version <> p_expected_version THEN
        RAISE EXCEPTION 'append_events: wrong expected version %: the stream is at %', p_expected_version,
          current_version USING ERRCODE = '40001';
      END IF;
      UPDATE streams s SET version = current_version + n WHERE s.stream_id = p_stream_id;
    END IF;
  END IF;

  WITH inserted AS (
    INSERT INTO events (stream_id, version, event_id, type, occurred_at, payload)
    SELECT p_stream_id, current_version + i, p_event_ids[i], p_types[i], p_occurred_at[i], p_payloads[i]
    FROM generate_series(1, n) AS i
    ORDER BY i
    RETURNING events.global_position
  )
  SELECT min(inserted.global_position), max(inserted.global_position) INTO first_position, last_position
  FROM inserted;

  first_version := current_version + 1;
  last_version := current_version + n;
  RETURN NEXT;
END;
$$;
