-- name: demo_customers_exist
-- A demo with this seed ran before: its customers are reused, never written twice.
SELECT EXISTS (SELECT 1 FROM customers WHERE external_id LIKE $1);

-- name: living_customers
SELECT id FROM customers WHERE erased_at IS NULL ORDER BY id;

-- name: open_demo_tasks
-- The demo's open tasks, to be prioritised again once their customers have real scores.
SELECT t.id, t.customer_id, t.deadline_at, c.value
  FROM recovery_tasks t
  JOIN customers c ON c.id = t.customer_id
 WHERE t.status = 'open' AND c.external_id LIKE $1 AND c.erased_at IS NULL
 ORDER BY t.id;

-- name: analyze_after_load
-- What autovacuum would do soon after a bulk load: statistics for the planner, and the
-- visibility map, without which index-only scans visit every heap row.
VACUUM (ANALYZE);
