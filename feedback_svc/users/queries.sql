-- name: insert_user
-- Accounts are created by the CLI or by a manager; the unique index on lower(email) refuses duplicates.
INSERT INTO users (email, name, role, password_hash, time_zone)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, email, name, role, time_zone, failed_logins, locked_until, created_at, disabled_at;

-- name: user_for_login
-- Login looks the account up by email, case-insensitively, hash included.
SELECT id, email, name, role, time_zone, password_hash, failed_logins, locked_until, created_at, disabled_at
FROM users
WHERE lower(email) = lower($1);

-- name: list_users
SELECT id, email, name, role, time_zone, failed_logins, locked_until, created_at, disabled_at
FROM users
ORDER BY disabled_at IS NOT NULL, lower(name), lower(email);

-- name: user_by_id
SELECT id, email, name, role, time_zone, failed_logins, locked_until, created_at, disabled_at
FROM users
WHERE id = $1;

-- name: record_failed_login
-- One statement, so two wrong passwords at the same moment both count (the row is
-- re-read under its lock). A lock that has run out starts the count afresh; reaching
-- the limit ($2) locks the account for $3.
UPDATE users
SET failed_logins = CASE WHEN locked_until <= now() THEN 1 ELSE failed_logins + 1 END,
    locked_until = CASE
        WHEN (CASE WHEN locked_until <= now() THEN 1 ELSE failed_logins + 1 END) >= $2
            THEN now() + $3::interval
    END
WHERE id = $1
RETURNING failed_logins, locked_until;

-- name: record_successful_login
-- A good password forgets earlier failures; an expired lock is cleared with them.
UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1;

-- name: update_password_hash
-- argon2 parameters grow over time; a login with an old hash stores a fresh one.
UPDATE users SET password_hash = $2 WHERE id = $1;

-- name: set_user_disabled
-- Disabling ends every session of the account at once.
WITH changed AS (
    UPDATE users
    SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) ELSE NULL END
    WHERE id = $1
    RETURNING id, email, name, role, time_zone, failed_logins, locked_until, created_at, disabled_at
), ended AS (
    DELETE FROM user_sessions WHERE $2 AND user_id IN (SELECT id FROM changed)
)
SELECT * FROM changed;

-- name: reset_password
-- A manager sets a new password: the lock and the failure count go, and so does every session
-- (whoever was signed in with the old password is signed out).
WITH changed AS (
    UPDATE users SET password_hash = $2, failed_logins = 0, locked_until = NULL
    WHERE id = $1
    RETURNING id, email, name, role, time_zone, failed_logins, locked_until, created_at, disabled_at
), ended AS (
    DELETE FROM user_sessions WHERE user_id IN (SELECT id FROM changed)
)
SELECT * FROM changed;

-- name: unlock_user
UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1
RETURNING id, email, name, role, time_zone, failed_logins, locked_until, created_at, disabled_at;

-- name: set_user_time_zone
UPDATE users SET time_zone = $2 WHERE id = $1
RETURNING id, email, name, role, time_zone, failed_logins, locked_until, created_at, disabled_at;

-- name: insert_session
INSERT INTO user_sessions (token_hash, user_id, csrf_token, expires_at)
VALUES ($1, $2, $3, $4);

-- name: session_by_token_hash
-- Every console request: a live session of an enabled account.
SELECT s.user_id, s.csrf_token, s.expires_at, u.email, u.name, u.role, u.time_zone
FROM user_sessions s
JOIN users u ON u.id = s.user_id
WHERE s.token_hash = $1 AND s.expires_at > now() AND u.disabled_at IS NULL;

-- name: delete_session
DELETE FROM user_sessions WHERE token_hash = $1;

-- name: delete_expired_sessions
-- Expired sessions are refused anyway; this keeps the table small.
DELETE FROM user_sessions WHERE expires_at <= now();

-- name: insert_audit
-- Console actions by people, for "who did this?" later.
INSERT INTO audit_log (actor_type, actor_id, action, target_type, target_id, details, request_id)
VALUES ('user', $1, $2, $3, $4, $5, $6);
