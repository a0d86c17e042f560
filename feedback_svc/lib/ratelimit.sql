-- name: add_hits
-- Add this process's hits since its last flush and learn every replica's total so far.
INSERT INTO rate_limit_hits (bucket, window_start, hits)
SELECT b, w, h FROM unnest($1::text[], $2::timestamptz[], $3::int[]) AS t (b, w, h)
    ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limit_hits.hits + excluded.hits
RETURNING bucket, window_start, hits;

-- name: prune_windows
-- Finished windows decide nothing any more.
DELETE FROM rate_limit_hits WHERE window_start < $1;
