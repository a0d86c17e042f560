-- name: list_rules
SELECT trigger, enabled, urgency, deadline, critical_deadline, high_value_deadline, updated_at
  FROM recovery_rules
 ORDER BY urgency DESC, trigger;

-- name: update_rule
UPDATE recovery_rules
   SET enabled = $2, urgency = $3, deadline = $4, critical_deadline = $5, high_value_deadline = $6,
       updated_at = now()
 WHERE trigger = $1
RETURNING trigger, enabled, urgency, deadline, critical_deadline, high_value_deadline, updated_at;

-- name: customer_value
-- Erased customers get no new tasks: there is nobody left to contact. Locked before the
-- task is written (customers/locks.py), so an erasure running now is waited for and seen.
SELECT value, erased_at IS NOT NULL AS erased FROM customers WHERE id = $1 FOR KEY SHARE;

-- name: latest_score
SELECT id, churn_probability, model_version
  FROM scores
 WHERE customer_id = $1
 ORDER BY scored_at DESC, id DESC
 LIMIT 1;

-- name: score_exists
SELECT EXISTS (SELECT 1 FROM scores WHERE id = $1 AND customer_id = $2);

-- name: response_exists
SELECT EXISTS (SELECT 1 FROM responses WHERE id = $1 AND customer_id = $2);

-- name: touchpoint_critical
SELECT critical FROM touchpoints WHERE key = $1;

-- name: evidence_seen
-- A redelivered event finds its evidence and does nothing, even if that task is resolved since.
SELECT EXISTS (
    SELECT 1 FROM recovery_evidence
     WHERE trigger = $3 AND (response_id = $1 OR score_id = $2)
);

-- name: upsert_open_task
-- One open task per customer: the partial unique index arbitrates between concurrent
-- events, and the no-op update locks the existing row so they queue up behind each other.
INSERT INTO recovery_tasks AS t (customer_id, trigger, touchpoint, critical, priority, deadline_at, control)
VALUES ($1, $2, $3, $4, 0, $5, $6)
ON CONFLICT (customer_id) WHERE status = 'open' DO UPDATE SET updated_at = now()
RETURNING t.id, t.control, t.escalated_at, t.deadline_at, (xmax = 0) AS created;

-- name: insert_evidence
-- No row back: the same signal was recorded by a concurrent delivery.
INSERT INTO recovery_evidence (task_id, trigger, response_id, score_id, details)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING
RETURNING id;

-- name: delete_task
DELETE FROM recovery_tasks WHERE id = $1;

-- name: task_signals
SELECT trigger, details FROM recovery_evidence WHERE task_id = $1 ORDER BY id;

-- name: reprioritise_task
-- A deadline only ever moves earlier: it is a promise already made to the customer.
-- A contact request takes the task out of the control group.
UPDATE recovery_tasks t
   SET trigger = $2, touchpoint = $3, critical = $4, priority = $5, priority_reasons = $6,
       value_at_risk = $7, deadline_at = least(t.deadline_at, $8), control = t.control AND NOT $9,
       updated_at = now()
 WHERE t.id = $1
RETURNING t.*, (t.status = 'open' AND t.first_contact_at IS NULL AND t.deadline_at < now()) AS overdue;

-- name: insert_history
INSERT INTO recovery_task_history (task_id, actor, action, details) VALUES ($1, $2, $3, $4);

-- name: list_tasks
-- Keyset pagination in queue order (priority, then id) so pages stay stable while tasks change.
SELECT t.*, (t.status = 'open' AND t.first_contact_at IS NULL AND t.deadline_at < now()) AS overdue
  FROM recovery_tasks t
 WHERE ($1::text IS NULL OR t.status = $1)
   AND ($2::text IS NULL OR t.trigger = $2)
   AND ($3::text IS NULL OR t.touchpoint = $3)
   AND ($4::text IS NULL OR t.assignee = $4)
   AND ($5::boolean IS NULL
        OR (t.status = 'open' AND t.first_contact_at IS NULL AND t.deadline_at < now()) = $5)
   AND ($6::uuid IS NULL OR t.customer_id = $6)
   AND ($7::float8 IS NULL OR (t.priority, t.id) < ($7, $8::uuid))
   -- a comment theme ($10): tasks with an answer among their evidence whose comment is about it
   AND ($10::bigint IS NULL OR EXISTS (
            SELECT 1 FROM recovery_evidence e
              JOIN theme_assignments a ON a.response_id = e.response_id
             WHERE e.task_id = t.id AND a.theme_id = $10))
   AND ($11::boolean IS NULL OR (t.escalated_at IS NOT NULL) = $11)
 ORDER BY t.priority DESC, t.id DESC
 LIMIT $9;

-- name: get_task
SELECT t.*, (t.status = 'open' AND t.first_contact_at IS NULL AND t.deadline_at < now()) AS overdue
  FROM recovery_tasks t
 WHERE t.id = $1;

-- name: task_evidence
SELECT id, trigger, response_id, score_id, details, created_at
  FROM recovery_evidence
 WHERE task_id = $1
 ORDER BY id;

-- name: task_history
SELECT id, actor, action, details, created_at
  FROM recovery_task_history
 WHERE task_id = $1
 ORDER BY id;

-- name: claim_task
-- The next task for agent $4 (NULL: a key acting for nobody), held as $1, in one statement.
-- `next` picks the most important open task nobody holds (never leased, or its lease ran out)
-- through recovery_tasks_claim_idx; SKIP LOCKED lets every claimer pass over rows another is
-- taking; tasks assigned to someone else and control-group tasks are not for the taking.
WITH next AS (
    SELECT id
      FROM recovery_tasks
     WHERE status = 'open'
       AND NOT control
       AND (lease_expires_at IS NULL OR lease_expires_at < now())
       AND (assignee IS NULL OR assignee = $4::text)
     ORDER BY priority DESC, created_at
     LIMIT 1
       FOR UPDATE SKIP LOCKED
),
-- the lease: a fresh token only this claimer knows, valid until now() + $2
claimed AS (
    UPDATE recovery_tasks t
       SET lease_token = gen_random_uuid(), lease_expires_at = now() + $2::interval, lease_holder = $1,
           updated_at = now()
      FROM next
     WHERE t.id = next.id
    RETURNING t.*
),
-- the history row, written by the same statement so a claim is never unrecorded
history AS (
    INSERT INTO recovery_task_history (task_id, actor, action, details)
    SELECT id, $1, 'claimed', jsonb_build_object('lease_expires_at', lease_expires_at, 'key', $3::text)
      FROM claimed
)
SELECT c.*, (c.first_contact_at IS NULL AND c.deadline_at < now()) AS overdue FROM claimed c;

-- name: lease_state
-- Why a leased change was refused: gone, resolved, or someone else's (or an expired) lease.
SELECT status, lease_token, lease_expires_at, lease_holder, lease_expires_at > now() AS lease_live
  FROM recovery_tasks
 WHERE id = $1;

-- name: extend_lease
WITH changed AS (
    UPDATE recovery_tasks
       SET lease_expires_at = now() + $3::interval, updated_at = now()
     WHERE id = $1 AND status = 'open' AND lease_token = $2 AND lease_expires_at > now()
    RETURNING *
),
history AS (
    INSERT INTO recovery_task_history (task_id, actor, action, details)
    SELECT id, $4, 'lease_extended', $5::jsonb || jsonb_build_object('lease_expires_at', lease_expires_at)
      FROM changed
)
SELECT c.*, (c.first_contact_at IS NULL AND c.deadline_at < now()) AS overdue FROM changed c;

-- name: release_lease
WITH changed AS (
    UPDATE recovery_tasks
       SET lease_token = NULL, lease_expires_at = NULL, lease_holder = NULL, updated_at = now()
     WHERE id = $1 AND status = 'open' AND lease_token = $2 AND lease_expires_at > now()
    RETURNING *
),
history AS (
    INSERT INTO recovery_task_history (task_id, actor, action, details)
    SELECT id, $3, 'released', $4::jsonb FROM changed
)
SELECT c.*, (c.first_contact_at IS NULL AND c.deadline_at < now()) AS overdue FROM changed c;

-- name: add_note
WITH changed AS (
    UPDATE recovery_tasks
       SET updated_at = now()
     WHERE id = $1 AND status = 'open' AND lease_token = $2 AND lease_expires_at > now()
    RETURNING *
),
history AS (
    INSERT INTO recovery_task_history (task_id, actor, action, details)
    SELECT id, $3, 'note', $4::jsonb FROM changed
)
SELECT c.*, (c.first_contact_at IS NULL AND c.deadline_at < now()) AS overdue FROM changed c;

-- name: record_contact
-- The first attempt, reached or not, is when the promise was kept (or broken).
WITH changed AS (
    UPDATE recovery_tasks
       SET first_contact_at = coalesce(first_contact_at, now()), updated_at = now()
     WHERE id = $1 AND status = 'open' AND lease_token = $2 AND lease_expires_at > now()
    RETURNING *
),
history AS (
    INSERT INTO recovery_task_history (task_id, actor, action, details)
    SELECT id, $3, 'contact_attempt',
           $4::jsonb || jsonb_build_object('before_deadline', first_contact_at <= deadline_at)
      FROM changed
)
SELECT c.*, (c.first_contact_at IS NULL AND c.deadline_at < now()) AS overdue FROM changed c;

-- name: resolve_task
-- $7: how long until the pulse survey for this outcome (NULL: none); only a task with an answer
-- among its evidence has a survey to ask again.
WITH changed AS (
    UPDATE recovery_tasks t
       SET status = 'resolved', outcome = $3, root_cause = $4, resolved_at = now(),
           lease_token = NULL, lease_expires_at = NULL, lease_holder = NULL, updated_at = now(),
           pulse_due_at = CASE WHEN $7::interval IS NOT NULL
                                AND EXISTS (SELECT 1 FROM recovery_evidence e
                                             WHERE e.task_id = t.id AND e.response_id IS NOT NULL)
                               THEN now() + $7::interval END
     WHERE id = $1 AND status = 'open' AND lease_token = $2 AND lease_expires_at > now()
    RETURNING *
),
history AS (
    INSERT INTO recovery_task_history (task_id, actor, action, details)
    SELECT id, $5, 'resolved', $6::jsonb || jsonb_build_object('outcome', $3::text, 'root_cause', $4::text,
                                                               'pulse_due_at', pulse_due_at)
      FROM changed
)
SELECT c.*, false AS overdue FROM changed c;

-- name: assign_task
-- By the lease holder (token $5, live) or, with $5 NULL, an admin. $6: the holder hands the
-- task to someone else, so the lease ends with it and the assignee can claim it at once.
WITH before AS (
    SELECT id, assignee
      FROM recovery_tasks
     WHERE id = $1 AND status = 'open'
       AND ($5::uuid IS NULL OR (lease_token = $5 AND lease_expires_at > now()))
       FOR UPDATE
),
changed AS (
    UPDATE recovery_tasks t
       SET assignee = $2, updated_at = now(),
           lease_token = CASE WHEN $6 THEN NULL ELSE t.lease_token END,
           lease_expires_at = CASE WHEN $6 THEN NULL ELSE t.lease_expires_at END,
           lease_holder = CASE WHEN $6 THEN NULL ELSE t.lease_holder END
      FROM before
     WHERE t.id = before.id
    RETURNING t.*, before.assignee AS previous
),
history AS (
    INSERT INTO recovery_task_history (task_id, actor, action, details)
    SELECT id, $3, 'assigned',
           $4::jsonb || jsonb_build_object('assignee', assignee, 'previous', previous)
                     || CASE WHEN $6 THEN '{"lease_ended": true}'::jsonb ELSE '{}'::jsonb END
      FROM changed
)
SELECT c.*, (c.first_contact_at IS NULL AND c.deadline_at < now()) AS overdue FROM changed c;

-- name: known_agent
-- Someone who can claim tasks assigned to $1, and the name such tasks must carry: an enabled
-- console user (email in any case; the stored one wins) or the agent of a live API key.
SELECT email FROM users WHERE lower(email) = lower($1) AND disabled_at IS NULL
UNION ALL
SELECT agent FROM api_keys
 WHERE agent = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
LIMIT 1;

-- name: reopen_task
-- A reopened task is a new promise: a fresh deadline and escalation (the escalation's points
-- leave its priority), the old outcome kept in history.
WITH before AS (
    SELECT id, outcome, root_cause, first_contact_at
      FROM recovery_tasks
     WHERE id = $1 AND status = 'resolved'
       FOR UPDATE
),
changed AS (
    UPDATE recovery_tasks t
       SET status = 'open', outcome = NULL, root_cause = NULL, resolved_at = NULL, escalated_at = NULL,
           deadline_alerted_at = NULL, first_contact_at = NULL, deadline_at = now() + $2::interval,
           priority = t.priority - coalesce((SELECT sum((r->>'points')::float8)
                                               FROM jsonb_array_elements(t.priority_reasons) r
                                              WHERE r->>'factor' = 'escalated'), 0),
           priority_reasons = coalesce((SELECT jsonb_agg(r)
                                          FROM jsonb_array_elements(t.priority_reasons) r
                                         WHERE r->>'factor' <> 'escalated'), '[]'::jsonb),
           pulse_due_at = NULL, updated_at = now()
      FROM before
     WHERE t.id = before.id
    RETURNING t.*, before.outcome AS previous_outcome, before.root_cause AS previous_root_cause,
              before.first_contact_at AS previous_first_contact_at
),
history AS (
    INSERT INTO recovery_task_history (task_id, actor, action, details)
    SELECT id, $3, 'reopened',
           $4::jsonb || jsonb_build_object('previous_outcome', previous_outcome,
                                           'previous_root_cause', previous_root_cause,
                                           'previous_first_contact_at', previous_first_contact_at,
                                           'deadline_at', deadline_at)
      FROM changed
)
SELECT c.*, (c.first_contact_at IS NULL AND c.deadline_at < now()) AS overdue FROM changed c;

-- name: escalate_overdue
-- Overdue and never contacted: flag once (escalated_at), record it; SKIP LOCKED lets any
-- number of sweepers share the work, and a task being worked right now waits for the next sweep.
WITH due AS (
    SELECT id
      FROM recovery_tasks
     WHERE status = 'open' AND escalated_at IS NULL AND first_contact_at IS NULL
       AND deadline_at < now() AND NOT control
     ORDER BY deadline_at
     LIMIT $1
       FOR UPDATE SKIP LOCKED
),
changed AS (
    UPDATE recovery_tasks t
       SET escalated_at = now(), updated_at = now()
      FROM due
     WHERE t.id = due.id
    RETURNING t.*
),
history AS (
    INSERT INTO recovery_task_history (task_id, actor, action, details)
    SELECT id, 'system', 'escalated',
           jsonb_build_object('deadline_at', deadline_at, 'overdue_seconds',
                              round(extract(epoch FROM escalated_at - deadline_at)),
                              'priority_points', $2::float8)
      FROM changed
)
SELECT c.*, true AS overdue FROM changed c;

-- name: raise_priority
-- An escalated task rises by $2 points, the reason $3 said beside the others.
UPDATE recovery_tasks t
   SET priority = t.priority + $2, priority_reasons = t.priority_reasons || jsonb_build_array($3::jsonb)
 WHERE t.id = $1
RETURNING t.*, (t.status = 'open' AND t.first_contact_at IS NULL AND t.deadline_at < now()) AS overdue;

-- name: mark_deadline_near
-- Open, never contacted, and due within $2: marked once, in the transaction that writes the
-- alerts; SKIP LOCKED shares the work between sweepers as escalate_overdue does.
WITH due AS (
    SELECT id
      FROM recovery_tasks
     WHERE status = 'open' AND deadline_alerted_at IS NULL AND first_contact_at IS NULL AND NOT control
       AND deadline_at > now() AND deadline_at <= now() + $2::interval
     ORDER BY deadline_at
     LIMIT $1
       FOR UPDATE SKIP LOCKED
)
UPDATE recovery_tasks t
   SET deadline_alerted_at = now()
  FROM due
 WHERE t.id = due.id
RETURNING t.*, false AS overdue;

-- name: close_control_tasks
-- A control task's window ends at its deadline: closed without contact, so the customer's
-- next bad answer opens a task that may be worked. Its pulse ($2, NULL: none) is due like a
-- worked task's, so both groups' later scores are asked for the same way.
WITH due AS (
    SELECT id
      FROM recovery_tasks
     WHERE status = 'open' AND control AND deadline_at < now()
     ORDER BY deadline_at
     LIMIT $1
       FOR UPDATE SKIP LOCKED
),
changed AS (
    UPDATE recovery_tasks t
       SET status = 'resolved', outcome = 'no_action_needed', root_cause = 'control_group',
           resolved_at = now(), updated_at = now(),
           pulse_due_at = CASE WHEN $2::interval IS NOT NULL
                                AND EXISTS (SELECT 1 FROM recovery_evidence e
                                             WHERE e.task_id = t.id AND e.response_id IS NOT NULL)
                               THEN now() + $2::interval END
      FROM due
     WHERE t.id = due.id
    RETURNING t.id, t.customer_id, t.resolved_at, t.pulse_due_at
),
history AS (
    INSERT INTO recovery_task_history (task_id, actor, action, details)
    SELECT id, 'system', 'control_closed',
           jsonb_build_object('outcome', 'no_action_needed', 'root_cause', 'control_group',
                              'pulse_due_at', pulse_due_at)
      FROM changed
)
SELECT * FROM changed;

-- name: effectiveness
-- Each resolved task next to what the customer did afterwards; the 30/90-day rates count only
-- tasks resolved long enough ago to know. Control tasks are measured from when they opened.
WITH outcomes AS (
    SELECT t.trigger, coalesce(t.assignee, h.actor) AS agent, t.root_cause, t.outcome, t.control,
           b.base <= now() - interval '30 days' AS observed_30d,
           b.base <= now() - interval '90 days' AS observed_90d,
           e.churned_30d, e.renewed_30d, e.churned_90d, e.renewed_90d
      FROM recovery_tasks t
     CROSS JOIN LATERAL (SELECT CASE WHEN t.control THEN t.created_at ELSE t.resolved_at END AS base) b
      LEFT JOIN LATERAL (
            SELECT actor FROM recovery_task_history
             WHERE task_id = t.id AND action = 'resolved'
             ORDER BY id DESC LIMIT 1
      ) h ON true
     CROSS JOIN LATERAL (
            SELECT bool_or(kind = 'churned' AND occurred_at <= b.base + interval '30 days') AS churned_30d,
                   bool_or(kind = 'renewed' AND occurred_at <= b.base + interval '30 days') AS renewed_30d,
                   bool_or(kind = 'churned') AS churned_90d,
                   bool_or(kind = 'renewed') AS renewed_90d
              FROM customer_events ce
             WHERE ce.customer_id = t.customer_id
               AND ce.kind IN ('churned', 'renewed')
               AND ce.occurred_at > b.base AND ce.occurred_at <= b.base + interval '90 days'
      ) e
     WHERE t.status = 'resolved'
       AND ($1::timestamptz IS NULL OR t.resolved_at >= $1)
       AND ($2::timestamptz IS NULL OR t.resolved_at < $2)
)
SELECT CASE WHEN GROUPING(trigger) = 0 THEN 'trigger'
            WHEN GROUPING(agent) = 0 THEN 'agent'
            WHEN GROUPING(root_cause) = 0 THEN 'root_cause'
            WHEN GROUPING(outcome) = 0 THEN 'outcome'
            WHEN GROUPING(control) = 0 THEN 'control'
            ELSE 'all' END AS dimension,
       coalesce(trigger, agent, root_cause, outcome, control::text) AS key,
       count(*) AS tasks,
       count(*) FILTER (WHERE outcome = 'recovered') AS recovered,
       count(*) FILTER (WHERE outcome = 'not_recovered') AS not_recovered,
       count(*) FILTER (WHERE outcome = 'unreachable') AS unreachable,
       count(*) FILTER (WHERE outcome = 'no_action_needed') AS no_action_needed,
       count(*) FILTER (WHERE observed_30d) AS observed_30d,
       count(*) FILTER (WHERE observed_30d AND churned_30d) AS churned_30d,
       count(*) FILTER (WHERE observed_30d AND renewed_30d) AS renewed_30d,
       count(*) FILTER (WHERE observed_90d) AS observed_90d,
       count(*) FILTER (WHERE observed_90d AND churned_90d) AS churned_90d,
       count(*) FILTER (WHERE observed_90d AND renewed_90d) AS renewed_90d
  FROM outcomes
 GROUP BY GROUPING SETS ((), (trigger), (agent), (root_cause), (outcome), (control))
 ORDER BY 1, 2;

-- name: promise_kept
-- The promise is the deadline: kept when the first contact came before it. Control tasks
-- were never promised anything.
SELECT count(*) FILTER (WHERE first_contact_at IS NOT NULL OR deadline_at < now()) AS due,
       count(*) FILTER (WHERE first_contact_at <= deadline_at) AS kept,
       count(*) FILTER (WHERE escalated_at IS NOT NULL) AS escalated
  FROM recovery_tasks
 WHERE NOT control
   AND ($1::timestamptz IS NULL OR created_at >= $1)
   AND ($2::timestamptz IS NULL OR created_at < $2);

-- name: score_change
-- Each resolved task's triggering answer (the first answer among its evidence) next to the same
-- customer's first answer of the same survey after the resolution and within $3 (a pulse or any
-- other), summed per kind of score, worked or control, and dimension. Tasks opened by a churn
-- score alone have no answer to compare and are left out.
WITH tasks AS (
    SELECT t.id, t.customer_id, t.trigger, t.root_cause, t.outcome, t.control, t.resolved_at,
           coalesce(t.assignee, h.actor) AS agent
      FROM recovery_tasks t
      LEFT JOIN LATERAL (
            SELECT actor FROM recovery_task_history
             WHERE task_id = t.id AND action = 'resolved'
             ORDER BY id DESC LIMIT 1
      ) h ON true
     WHERE t.status = 'resolved'
       AND ($1::timestamptz IS NULL OR t.resolved_at >= $1)
       AND ($2::timestamptz IS NULL OR t.resolved_at < $2)
),
pairs AS (
    SELECT k.trigger, k.root_cause, k.outcome, k.control, k.agent, b.kind, b.score AS before, a.score AS after
      FROM tasks k
      JOIN LATERAL (
            SELECT r.survey_id, r.kind, r.score
              FROM recovery_evidence e
              JOIN responses r ON r.id = e.response_id
             WHERE e.task_id = k.id
             ORDER BY e.id
             LIMIT 1
      ) b ON true
      -- responses_customer_time_idx: this customer's answers after the resolution, oldest first
      LEFT JOIN LATERAL (
            SELECT r.score
              FROM responses r
             WHERE r.customer_id = k.customer_id AND r.survey_id = b.survey_id
               AND r.answered_at > k.resolved_at AND r.answered_at <= k.resolved_at + $3::interval
             ORDER BY r.answered_at
             LIMIT 1
      ) a ON true
)
SELECT kind, control,
       CASE WHEN GROUPING(trigger) = 0 THEN 'trigger'
            WHEN GROUPING(agent) = 0 THEN 'agent'
            WHEN GROUPING(root_cause) = 0 THEN 'root_cause'
            WHEN GROUPING(outcome) = 0 THEN 'outcome'
            ELSE 'all' END AS dimension,
       coalesce(trigger, agent, root_cause, outcome) AS key,
       count(*) AS tasks,
       count(after) AS paired,
       (avg(before) FILTER (WHERE after IS NOT NULL))::float8 AS before,
       avg(after)::float8 AS after,
       avg(after - before)::float8 AS mean_change,
       var_samp(after - before)::float8 AS var_change
  FROM pairs
 GROUP BY GROUPING SETS ((kind, control), (kind, control, trigger), (kind, control, agent),
                         (kind, control, root_cause), (kind, control, outcome))
 ORDER BY kind, control, 3, 4;
