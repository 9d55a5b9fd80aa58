-- One row per commit round, written in the round's own transaction. When a
-- round's connection breaks during COMMIT, the engine learns whether it
-- committed by inserting the same id itself: a conflict means the round
-- committed; an insert means it did not (and can no longer, since the id
-- is now taken). A transaction id cannot serve: after a crash PostgreSQL
-- may hand out again an id whose transaction never reached the WAL.
-- Rows older than an hour are deleted by the key sweep.
CREATE TABLE commit_rounds (
    id uuid PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX commit_rounds_by_age ON commit_rounds (at);
