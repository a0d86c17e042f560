-- name: queue_tasks
-- The queue as agents see it: open tasks in priority order with the customer's name and segment,
-- keyset-paged on (priority, id) like the API. Control-group tasks are left out: nobody may
-- contact those customers. "Owner" is the assignee or, for unassigned tasks, whoever holds a live lease.
SELECT t.id, t.customer_id, t.trigger, t.touchpoint, t.critical, t.priority, t.priority_reasons,
       t.value_at_risk, t.deadline_at, t.escalated_at, t.assignee, t.first_contact_at, t.created_at,
       CASE WHEN t.lease_expires_at > now() THEN t.lease_holder END AS lease_holder,
       (t.first_contact_at IS NULL AND t.deadline_at < now()) AS overdue,
       c.name AS customer_name, c.external_id AS customer_external_id, c.segment, c.value,
       cause.kind AS cause_kind, cause.score AS cause_score, cause.comment AS cause_comment,
       cause.churn AS cause_churn
  FROM recovery_tasks t
  JOIN customers c ON c.id = t.customer_id
  -- what put the task here, for the card: the latest answer among its evidence (a churn score
  -- when there is none), its comment cut to what a card can show
  LEFT JOIN LATERAL (
        SELECT r.kind, r.score,
               CASE WHEN length(r.comment) > 160 THEN left(r.comment, 159) || '…' ELSE r.comment END AS comment,
               e.details->>'churn_probability' AS churn
          FROM recovery_evidence e
          LEFT JOIN responses r ON r.id = e.response_id
         WHERE e.task_id = t.id
         ORDER BY r.id IS NULL, e.id DESC
         LIMIT 1
  ) cause ON true
 WHERE t.status = 'open' AND NOT t.control
   AND ($1::text IS NULL OR t.trigger = $1)
   AND ($2::text IS NULL OR t.touchpoint = $2)
   AND ($3::text IS NULL OR c.segment = $3)
   AND ($4::text IS NULL OR t.assignee = $4 OR (t.lease_holder = $4 AND t.lease_expires_at > now()))
   AND (NOT $5::boolean
        OR (t.assignee IS NULL AND (t.lease_expires_at IS NULL OR t.lease_expires_at <= now())))
   AND ($6::float8 IS NULL OR (t.priority, t.id) < ($6, $7::uuid))
   -- a comment theme ($9): tasks with an answer among their evidence whose comment is about it
   AND ($9::bigint IS NULL OR EXISTS (
            SELECT 1 FROM recovery_evidence e
              JOIN theme_assignments a ON a.response_id = e.response_id
             WHERE e.task_id = t.id AND a.theme_id = $9))
 ORDER BY t.priority DESC, t.id DESC
 LIMIT $8;

-- name: queue_counts
-- The numbers above the list: how much is waiting and how much of it broke its promise already.
SELECT count(*) AS open,
       count(*) FILTER (WHERE first_contact_at IS NULL AND deadline_at < now()) AS overdue
  FROM recovery_tasks
 WHERE status = 'open' AND NOT control;

-- name: queue_touchpoints
SELECT key FROM touchpoints ORDER BY key;

-- name: queue_segments
-- Segments that have open work, so the filter offers only choices that can match.
SELECT DISTINCT c.segment
  FROM recovery_tasks t
  JOIN customers c ON c.id = t.customer_id
 WHERE t.status = 'open' AND c.segment IS NOT NULL
 ORDER BY 1;

-- name: story_customer
SELECT id, external_id, name, email, phone, segment, value, time_zone, locale, erased_at, created_at
  FROM customers
 WHERE id = $1;

-- name: story_responses
-- Newest first and capped: a screen, not an archive; the count says when there is more.
SELECT id, kind, score, comment, contact_requested, channel, touchpoint, answered_at,
       count(*) OVER () AS total
  FROM responses
 WHERE customer_id = $1
 ORDER BY answered_at DESC
 LIMIT $2;

-- name: story_interactions
SELECT id, touchpoint, critical, occurred_at, channel_preference, agent, count(*) OVER () AS total
  FROM interactions
 WHERE customer_id = $1
 ORDER BY occurred_at DESC
 LIMIT $2;

-- name: story_events
SELECT kind, occurred_at, amount
  FROM customer_events
 WHERE customer_id = $1
 ORDER BY occurred_at DESC
 LIMIT $2;

-- name: story_latest_score
SELECT churn_probability, loyalty, risk_band, reasons, model_version, scored_at
  FROM scores
 WHERE customer_id = $1
 ORDER BY scored_at DESC, id DESC
 LIMIT 1;

-- name: story_other_tasks
-- Earlier (and any other) recovery tasks of the same customer, with what came of them.
SELECT id, status, trigger, touchpoint, outcome, root_cause, created_at, resolved_at
  FROM recovery_tasks
 WHERE customer_id = $1 AND id <> $2
 ORDER BY created_at DESC
 LIMIT 50;

-- name: take_task
-- "Work on this task" and every console action: the lease on one named task for $2, unless
-- someone else holds a live lease, it is assigned to another agent (managers, $4, may take it
-- anyway), it is resolved, or it is in the control group. A lease $2 already holds keeps its
-- token, so a second tab of the same agent stays valid; a lapsed one is taken back with a
-- fresh token, so an agent who read for longer than the lease loses nothing they typed.
-- Only a change of hands is written to the history: silent renewals would drown the story.
WITH target AS (
    SELECT id, coalesce(lease_holder = $2 AND lease_expires_at > now(), false) AS mine
      FROM recovery_tasks
     WHERE id = $1 AND status = 'open' AND NOT control
       AND (assignee IS NULL OR assignee = $2 OR $4::boolean)
       AND (lease_expires_at IS NULL OR lease_expires_at <= now() OR lease_holder = $2)
       FOR UPDATE
),
taken AS (
    UPDATE recovery_tasks t
       SET lease_token = CASE WHEN target.mine THEN t.lease_token ELSE gen_random_uuid() END,
           lease_expires_at = now() + $3::interval, lease_holder = $2, updated_at = now()
      FROM target
     WHERE t.id = target.id
    RETURNING t.id, t.lease_token, t.lease_expires_at, target.mine
),
history AS (
    INSERT INTO recovery_task_history (task_id, actor, action, details)
    SELECT id, $2, 'claimed', jsonb_build_object('lease_expires_at', lease_expires_at, 'via', 'console')
      FROM taken
     WHERE NOT mine
)
SELECT lease_token, lease_expires_at, mine FROM taken;

-- name: task_holding
-- Why take_task said no, in words the agent can act on.
SELECT t.status, t.control, t.assignee,
       CASE WHEN t.lease_expires_at > now() THEN t.lease_holder END AS lease_holder,
       CASE WHEN t.lease_expires_at > now() THEN t.lease_expires_at END AS lease_expires_at
  FROM recovery_tasks t
 WHERE t.id = $1;

-- name: active_people
SELECT email, name, role FROM users WHERE disabled_at IS NULL ORDER BY name, email;

-- name: known_root_causes
-- Suggestions for the resolve form, most used first, so the same cause gets the same tag.
SELECT root_cause
  FROM recovery_tasks
 WHERE root_cause IS NOT NULL AND root_cause <> 'control_group'
 GROUP BY root_cause
 ORDER BY count(*) DESC, root_cause
 LIMIT 40;

-- name: escalated_tasks
-- The managers' view: open tasks whose deadline passed without contact, longest overdue first,
-- with what their escalation alerts did.
SELECT t.id, t.trigger, t.touchpoint, t.critical, t.priority, t.priority_reasons, t.deadline_at,
       t.escalated_at, t.assignee, t.first_contact_at,
       CASE WHEN t.lease_expires_at > now() THEN t.lease_holder END AS lease_holder,
       c.name AS customer_name, c.external_id AS customer_external_id, c.segment, c.value,
       alerted.sent AS alerts_sent, alerted.waiting AS alerts_waiting, alerted.failed AS alerts_failed
  FROM recovery_tasks t
  JOIN customers c ON c.id = t.customer_id
 CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE status = 'sent') AS sent,
               count(*) FILTER (WHERE status = 'pending') AS waiting,
               count(*) FILTER (WHERE status = 'failed') AS failed
          FROM alerts a
         WHERE a.task_id = t.id AND a.trigger = 'escalated'
  ) alerted
 WHERE t.status = 'open' AND t.escalated_at IS NOT NULL AND NOT t.control
 ORDER BY t.deadline_at, t.id
 LIMIT $1;

-- name: task_alerts
-- Who was told about a task, for its page.
SELECT id, trigger, urgency, channel, recipient, user_id, status, attempts, error, created_at, sent_at
  FROM alerts
 WHERE task_id = $1
 ORDER BY id;
