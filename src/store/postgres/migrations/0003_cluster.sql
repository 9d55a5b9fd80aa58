-- Many nodes on one database (CLUSTER.md). Shows are spread over a fixed
-- number of partitions (256: `store::postgres::leases::PARTITIONS`); a
-- partition's lease names its owner, until when (the database's clock, so
-- nodes' clocks do not matter), and an epoch raised by every claim. Each
-- commit round checks, in its own transaction, that the epochs it writes
-- under are still current: a paused or cut-off former owner writes
-- nothing (the fence).
CREATE TABLE nodes (
    id text PRIMARY KEY,
    advertise text NOT NULL,
    heartbeat_at timestamptz NOT NULL
);

CREATE TABLE partitions (
    id integer PRIMARY KEY,
    owner text,
    epoch bigint NOT NULL DEFAULT 0,
    lapse_at timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO partitions (id) SELECT generate_series(0, 255);
