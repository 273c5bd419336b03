-- Events at one instant are listed in the order they were stored. SQLite keeps that order
-- already (rowid, kept by upserts); this migration keeps the two dialects' lists aligned.
SELECT 1;
