-- Events at one instant (a system prompt and the user's message, recorded in one call) are
-- listed in the order they were stored: a sequence number per event, kept by upserts. Existing
-- events are numbered in their table's order. SQLite has this already (rowid).
ALTER TABLE private.events ADD COLUMN seq BIGSERIAL;
