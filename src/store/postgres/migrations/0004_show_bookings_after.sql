-- Migration 4, after every existing booking has its show_id
-- (`migrations::backfill_booking_shows`).
ALTER TABLE bookings ALTER COLUMN show_id SET NOT NULL;
CREATE INDEX bookings_by_show ON bookings (show_id, created_at_ms, id);
