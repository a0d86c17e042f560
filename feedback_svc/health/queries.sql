-- name: current_revision
-- Ready means reachable and migrated to the revision this code expects.
SELECT version_num FROM alembic_version LIMIT 1;
