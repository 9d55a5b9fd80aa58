-- v1.2. A seat may be blocked by the box office: state 3, with no cart, no
-- hold's end and no booking. The two CHECKs of 0001 are replaced, keeping
-- their names and every condition they had.
ALTER TABLE seats
    DROP CONSTRAINT seats_state_check,
    DROP CONSTRAINT seats_check,
    ADD CONSTRAINT seats_state_check CHECK (state IN (1, 2, 3)),
    ADD CONSTRAINT seats_check CHECK (
        (state = 1 AND cart_id IS NOT NULL AND until_ms IS NOT NULL)
        OR (state = 2 AND booking_id IS NOT NULL)
        OR (state = 3 AND cart_id IS NULL AND until_ms IS NULL AND booking_id IS NULL));

-- A show's bookings, listed in order (`Store::list_show_bookings`, keyset
-- pages on the index). The column is filled for existing rows in Rust,
-- in this migration's transaction (`migrations::backfill_booking_shows`:
-- the show is inside the `record`, in the engine's codec), then made
-- NOT NULL and indexed (0004_show_bookings_after.sql).
ALTER TABLE bookings ADD COLUMN show_id uuid;
