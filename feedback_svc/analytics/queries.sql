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
-- Invitations sent in [$1, $2) and how many of them were answered, per period ($3) and group ($4);
-- with reminders apart: answered before the first reminder went (or with none sent), reminded
-- (a first reminder went), answered after it. The first two sum to `answered`.
SELECT CASE WHEN $3::text = 'none' THEN NULL
            ELSE date_trunc($3::text, inv.sent_at AT TIME ZONE 'UTC')::date END AS period,
       CASE $4::text
            WHEN 'touchpoint' THEN coalesce(i.touchpoint, '(none)')
            WHEN 'channel' THEN inv.channel
            WHEN 'segment' THEN coalesce(c.segment, '(none)')
            WHEN 'agent' THEN coalesce(i.agent, '(none)')
       END AS grp,
       count(*)::int AS sent,
       count(r.id)::int AS answered,
       (count(r.id) FILTER (WHERE rm.sent_at IS NULL OR r.answered_at < rm.sent_at))::int
           AS answered_before_reminder,
       count(rm.sent_at)::int AS reminded,
       (count(r.id) FILTER (WHERE r.answered_at >= rm.sent_at))::int AS answered_after_reminder
FROM invitations inv
JOIN customers c ON c.id = inv.customer_id
LEFT JOIN interactions i ON i.id = inv.interaction_id
LEFT JOIN responses r ON r.invitation_id = inv.id
-- the first reminder, by its primary key
LEFT JOIN invitation_reminders rm ON rm.invitation_id = inv.id AND rm.number = 1 AND rm.status = 'sent'
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
