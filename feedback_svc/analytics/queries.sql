-- name: score_counts
-- Answers of one kind counted per score, per period ($4: none|week|month, weeks start Monday, UTC)
-- and per group ($5: none|touchpoint|channel|segment|agent), in [$2, $3).
SELECT CASE WHEN $4::text = 'none' THEN NULL
            ELSE date_trunc($4::text, r.answered_at AT TIME ZONE 'UTC')::date END AS period,
       CASE $5::text
            WHEN 'touchpoint' THEN coalesce(r.touchpoint, '(none)')
            WHEN 'channel' THEN r.channel
            WHEN 'segment' THEN coalesce(c.segment, '(none)')
            WHEN 'agent' THEN coalesce(i.agent, '(none)')
       END AS grp,
       r.score,
       count(*)::int AS answers
FROM responses r
JOIN customers c ON c.id = r.customer_id
LEFT JOIN interactions i ON i.id = r.interaction_id
WHERE r.kind = $1 AND r.answered_at >= $2 AND r.answered_at < $3
GROUP BY 1, 2, 3
ORDER BY 1 NULLS FIRST, 2 NULLS FIRST, 3;

-- name: response_counts
-- Invitations sent in [$1, $2) and how many of them were answered, per period ($3) and group ($4).
SELECT CASE WHEN $3::text = 'none' THEN NULL
            ELSE date_trunc($3::text, inv.sent_at AT TIME ZONE 'UTC')::date END AS period,
       CASE $4::text
            WHEN 'touchpoint' THEN coalesce(i.touchpoint, '(none)')
            WHEN 'channel' THEN inv.channel
            WHEN 'segment' THEN coalesce(c.segment, '(none)')
            WHEN 'agent' THEN coalesce(i.agent, '(none)')
       END AS grp,
       count(*)::int AS sent,
       count(r.id)::int AS answered
FROM invitations inv
JOIN customers c ON c.id = inv.customer_id
LEFT JOIN interactions i ON i.id = inv.interaction_id
LEFT JOIN responses r ON r.invitation_id = inv.id
WHERE inv.sent_at >= $1 AND inv.sent_at < $2
GROUP BY 1, 2
ORDER BY 1 NULLS FIRST, 2 NULLS FIRST;

-- name: detractors_by_touchpoint
-- NPS answers and detractors (0-6) per touchpoint in [$1, $2): each is later compared with all others.
SELECT coalesce(touchpoint, '(none)') AS touchpoint,
       count(*)::int AS answers,
       (count(*) FILTER (WHERE score <= 6))::int AS detractors
FROM responses
WHERE kind = 'nps' AND answered_at >= $1 AND answered_at < $2
GROUP BY 1
ORDER BY 1;

-- name: churn_by_touchpoint
-- Customers with an interaction in [$1, $2), and who of them churned from $1 on, per touchpoint
-- they met; with the population's totals so each touchpoint can be compared with the rest.
WITH exposure AS (
    SELECT DISTINCT customer_id, touchpoint
    FROM interactions
    WHERE occurred_at >= $1 AND occurred_at < $2
), churned AS (
    SELECT DISTINCT customer_id FROM customer_events WHERE kind = 'churned' AND occurred_at >= $1
), totals AS (
    SELECT count(DISTINCT e.customer_id)::int AS population,
           count(DISTINCT ch.customer_id)::int AS population_churned
    FROM exposure e
    LEFT JOIN churned ch ON ch.customer_id = e.customer_id
)
SELECT e.touchpoint,
       count(*)::int AS customers,
       count(ch.customer_id)::int AS churned,
       t.population,
       t.population_churned
FROM exposure e
LEFT JOIN churned ch ON ch.customer_id = e.customer_id
CROSS JOIN totals t
GROUP BY e.touchpoint, t.population, t.population_churned
ORDER BY e.touchpoint;

-- name: export_responses
-- Every answer in [$1, $2) (of kind $3 when given) for the CSV export, oldest first.
SELECT r.answered_at, r.kind, r.score, r.touchpoint, r.channel,
       CASE WHEN c.erased_at IS NULL THEN c.external_id END AS customer_external_id,
       c.segment, i.agent, r.comment, r.contact_requested
FROM responses r
JOIN customers c ON c.id = r.customer_id
LEFT JOIN interactions i ON i.id = r.interaction_id
WHERE r.answered_at >= $1 AND r.answered_at < $2 AND ($3::text IS NULL OR r.kind = $3)
ORDER BY r.answered_at, r.id;

-- name: value_vulnerability
-- Each customer's latest score next to their value, counted into a grid: rows at the churn
-- probabilities where the serving model's risk bands start ($1: medium, high, critical; NULL:
-- the 50th, 80th and 95th percentiles of these scores, where a model card cuts its bands),
-- columns at the value's own quartiles so the picture reads the same in any currency.
-- A customer's value is the CRM's, or where the CRM sent none (0) the expected value over the
-- model's horizon that the latest score carries (lifetime value), as value_at_risk takes it.
-- Erased customers are left out: there is nobody left to win back.
WITH latest AS (
    SELECT DISTINCT ON (s.customer_id) s.customer_id, s.churn_probability, s.expected_value
      FROM scores s
     ORDER BY s.customer_id, s.scored_at DESC, s.id DESC
),
scored AS (
    SELECT CASE WHEN c.value > 0 THEN c.value ELSE coalesce(l.expected_value, 0) END AS value,
           l.churn_probability
      FROM latest l
      JOIN customers c ON c.id = l.customer_id
     WHERE c.erased_at IS NULL
),
cuts AS (
    SELECT percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY value) AS q,
           coalesce($1::float8[],
                    percentile_cont(ARRAY[0.5, 0.8, 0.95]) WITHIN GROUP (ORDER BY churn_probability)) AS risk
      FROM scored
)
SELECT width_bucket(s.churn_probability, cuts.risk) AS risk_band,
       width_bucket(s.value, cuts.q) AS value_band,
       count(*) AS customers,
       sum(s.value) AS value,
       sum(s.value * s.churn_probability) AS value_at_risk,
       cuts.q AS cuts,
       cuts.risk AS risk_cuts
  FROM scored s CROSS JOIN cuts
 GROUP BY 1, 2, cuts.q, cuts.risk
 ORDER BY 1, 2;

-- name: active_risk_bands
-- The serving model's risk bands from its card; no row while the shipped baseline serves.
SELECT version, card->'risk_bands' AS risk_bands FROM models WHERE kind = $1 AND active;

-- name: first_contact_times
-- How long customers waited for the first call: tasks opened in the window, control left out.
SELECT count(*) FILTER (WHERE first_contact_at IS NOT NULL) AS contacted,
       count(*) AS tasks,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_contact_at - created_at))
           FILTER (WHERE first_contact_at IS NOT NULL) / 3600 AS median_hours,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM first_contact_at - created_at))
           FILTER (WHERE first_contact_at IS NOT NULL) / 3600 AS p90_hours
  FROM recovery_tasks
 WHERE NOT control AND created_at >= $1 AND created_at < $2;

-- name: agent_task_facts
-- One row per task resolved in [$1, $2) with what each agent-performance number needs,
-- so the table (agent_summaries) and its drill-down (agent_tasks) read the same facts.
-- Not run alone: queries.py puts it in front of them as the CTE `facts`.
-- The agent is whoever resolved the task last (a reopened task counts once, for its last
-- round, measured from the reopening); control tasks are closed by the system and left out.
-- $3 is the churn label policy (docs/churn-labels.md): 'contractual' counts a `churned` event
-- within 90 days after resolution, 'non_contractual' no purchase within them among buyers.
SELECT t.id AS task_id, t.customer_id, coalesce(h.agent, t.assignee, '(unrecorded)') AS agent,
       t.trigger, t.touchpoint, t.critical, coalesce(h.reopened_at, t.created_at) AS opened_at,
       t.deadline_at, t.first_contact_at, t.resolved_at, t.outcome,
       (extract(epoch FROM t.first_contact_at - coalesce(h.reopened_at, t.created_at)) / 3600)::float8
           AS contact_hours,
       -- the promise fell due when someone called, or when the deadline passed with the task open
       (t.first_contact_at IS NOT NULL OR t.deadline_at < t.resolved_at) AS promise_due,
       coalesce(t.first_contact_at <= t.deadline_at, false) AS promise_kept,
       t.outcome IN ('recovered', 'not_recovered', 'unreachable') AS worked,
       ev.kind AS survey_kind, ev.score AS score_before, nx.score AS score_after, nx.answered_at AS answered_after_at,
       -- after minus before in % of the scale's range, the sign turned for CES (1 = easiest)
       (nx.score - ev.score) * CASE ev.kind WHEN 'nps' THEN 10.0 WHEN 'csat' THEN 25.0
                                            ELSE -100.0 / 6 END AS score_change,
       ob.observed AS churn_observed,
       CASE WHEN NOT ob.observed THEN NULL
            WHEN $3::text = 'contractual' THEN EXISTS (
                 SELECT 1 FROM customer_events ce
                  WHERE ce.customer_id = t.customer_id AND ce.kind = 'churned'
                    AND ce.occurred_at > t.resolved_at AND ce.occurred_at <= t.resolved_at + interval '90 days')
            ELSE NOT EXISTS (
                 SELECT 1 FROM customer_events ce
                  WHERE ce.customer_id = t.customer_id AND ce.kind = 'purchase'
                    AND ce.occurred_at > t.resolved_at AND ce.occurred_at <= t.resolved_at + interval '90 days')
       END AS churned_90d
  FROM recovery_tasks t
 -- who resolved it last, and when it was last reopened (recovery_task_history_task_idx)
 CROSS JOIN LATERAL (
       SELECT (array_agg(actor ORDER BY id DESC) FILTER (WHERE action = 'resolved'))[1] AS agent,
              max(created_at) FILTER (WHERE action = 'reopened') AS reopened_at
         FROM recovery_task_history
        WHERE task_id = t.id AND action IN ('resolved', 'reopened')
 ) h
 -- the answer that opened the task: its first evidence with a response
 LEFT JOIN LATERAL (
       SELECT r.survey_id, r.kind, r.score
         FROM recovery_evidence e
         JOIN responses r ON r.id = e.response_id
        WHERE e.task_id = t.id AND e.response_id IS NOT NULL
        ORDER BY e.id
        LIMIT 1
 ) ev ON true
 -- the customer's first answer to the same survey within 90 days after resolution
 -- (a post-recovery pulse is such an answer); responses_customer_time_idx
 LEFT JOIN LATERAL (
       SELECT r.score, r.answered_at
         FROM responses r
        WHERE r.customer_id = t.customer_id AND r.survey_id = ev.survey_id
          AND r.answered_at > t.resolved_at AND r.answered_at <= t.resolved_at + interval '90 days'
        ORDER BY r.answered_at
        LIMIT 1
 ) nx ON true
 -- 90 days after resolution have passed (and, without contracts, the customer had bought by then)
 CROSS JOIN LATERAL (
       SELECT t.resolved_at <= now() - interval '90 days'
              AND ($3::text = 'contractual' OR EXISTS (
                   SELECT 1 FROM customer_events ce
                    WHERE ce.customer_id = t.customer_id AND ce.kind = 'purchase'
                      AND ce.occurred_at <= t.resolved_at)) AS observed
 ) ob
 WHERE t.status = 'resolved' AND NOT t.control AND t.resolved_at >= $1 AND t.resolved_at < $2

-- name: agent_summaries
-- Per agent and for the whole team (agent NULL): counts, and the values medians and means need.
SELECT CASE WHEN GROUPING(agent) = 0 THEN agent END AS agent,
       count(*)::int AS tasks,
       (count(*) FILTER (WHERE critical))::int AS critical,
       array_agg(contact_hours ORDER BY contact_hours) FILTER (WHERE contact_hours IS NOT NULL) AS contact_hours,
       (count(*) FILTER (WHERE promise_due))::int AS promises_due,
       (count(*) FILTER (WHERE promise_kept))::int AS promises_kept,
       (count(*) FILTER (WHERE worked))::int AS worked,
       (count(*) FILTER (WHERE outcome = 'recovered'))::int AS recovered,
       (count(*) FILTER (WHERE outcome = 'not_recovered'))::int AS not_recovered,
       (count(*) FILTER (WHERE outcome = 'unreachable'))::int AS unreachable,
       (count(*) FILTER (WHERE outcome = 'no_action_needed'))::int AS no_action_needed,
       array_agg(score_change::float8) FILTER (WHERE score_change IS NOT NULL) AS score_changes,
       (count(*) FILTER (WHERE score_before IS NOT NULL))::int AS with_survey,
       (count(*) FILTER (WHERE churn_observed))::int AS churn_observed,
       (count(*) FILTER (WHERE churned_90d))::int AS churned_90d
  FROM facts
 GROUP BY GROUPING SETS ((agent), ())
 ORDER BY 1 NULLS FIRST;

-- name: agent_tasks
-- The tasks behind one number of agent $4 ($5: which number), newest resolution first, a page
-- of $6 after the keyset ($7, $8).
SELECT f.*, c.name AS customer_name, c.erased_at IS NOT NULL AS customer_erased
  FROM facts f
  JOIN customers c ON c.id = f.customer_id
 WHERE f.agent = $4
   AND CASE $5::text
            WHEN 'tasks' THEN true
            WHEN 'first_contact' THEN f.contact_hours IS NOT NULL
            WHEN 'promises' THEN f.promise_due
            WHEN 'promises_broken' THEN f.promise_due AND NOT f.promise_kept
            WHEN 'worked' THEN f.worked
            WHEN 'score_change' THEN f.score_change IS NOT NULL
            WHEN 'churn_90d' THEN f.churn_observed
            WHEN 'churned_90d' THEN coalesce(f.churned_90d, false)
            ELSE f.outcome = $5::text
       END
   AND ($7::timestamptz IS NULL OR (f.resolved_at, f.task_id) < ($7, $8::uuid))
 ORDER BY f.resolved_at DESC, f.task_id DESC
 LIMIT $6;

-- name: console_people
-- Console users by email (names for the table) and who of them works the queue, so an
-- agent with nothing resolved in the window still has a row.
SELECT email, name, role, disabled_at IS NULL AS active FROM users ORDER BY lower(name), email;
