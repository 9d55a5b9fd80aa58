-- boxoffice on PostgreSQL: the records of the embedded store, one table a
-- kind. Shows, carts, bookings and stored answers keep the engine's own
-- versioned encoding (`store::codec`) in `record`/`reply`, so they read back
-- exactly as written (a replay is byte for byte); seats are columns, the
-- hottest table and the one an operator queries.

CREATE TABLE shows (
    id uuid PRIMARY KEY,
    record bytea NOT NULL
);

-- A seat that is available has no row.
CREATE TABLE seats (
    show_id uuid NOT NULL,
    seat_index integer NOT NULL,
    -- 1: held by cart_id until until_ms; 2: booked by booking_id.
    state smallint NOT NULL CHECK (state IN (1, 2)),
    cart_id uuid,
    until_ms bigint,
    booking_id uuid,
    PRIMARY KEY (show_id, seat_index),
    CHECK ((state = 1 AND cart_id IS NOT NULL AND until_ms IS NOT NULL)
        OR (state = 2 AND booking_id IS NOT NULL))
);

CREATE TABLE carts (
    id uuid PRIMARY KEY,
    owner_id uuid NOT NULL,
    record bytea NOT NULL
);

CREATE TABLE bookings (
    id uuid PRIMARY KEY,
    owner_id uuid NOT NULL,
    created_at_ms bigint NOT NULL,
    record bytea NOT NULL
);
CREATE INDEX bookings_by_owner ON bookings (owner_id, created_at_ms, id);

-- Only the SHA-256 of a bearer token is kept.
CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    user_id uuid NOT NULL,
    created_at_ms bigint NOT NULL
);
CREATE INDEX sessions_by_age ON sessions (created_at_ms);

-- Completed Idempotency-Keys, written in the same transaction as the
-- effect they answer; inserted with ON CONFLICT DO NOTHING, so a key has
-- one record, and one effect, across every node.
CREATE TABLE idempotency_keys (
    user_id uuid NOT NULL,
    key text NOT NULL,
    created_at_ms bigint NOT NULL,
    reply bytea NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at_ms);
