-- Churn and loyalty features AS OF a moment ($1): every table is read only up to
-- $1, so a training cut-off sees exactly what serving would have seen then.
-- Windows are (as_of - 90 days, as_of]; the latest answers (and their trend) come
-- from the last 365 days, so serving cost stays flat as history grows. Scores are
-- normalised to 0 (worst) .. 1 (best) where kinds are mixed: NPS/10, (CSAT-1)/4,
-- (7-CES)/6 (CES 1 = very easy, 7 = very difficult, as the surveys ask). An answer
-- is "unhappy" at NPS 0-6, CSAT 1-2, CES 6-7, the same as the recovery triggers.
-- What the CRM says (attributes, value, segment) is the version valid at $1: the
-- current one when it was already valid then, else the one in customer_attribute_history
-- whose [valid_from, valid_to) holds $1, else nothing (missing, imputed by the model).
-- A customer is one since customer_since, else since the earlier of their first event
-- and created_at (a CRM loading its history today has events older than the rows); only
-- events up to $1 can be the first then, so both queries read the first event up to $1.
-- Purchase history is read whole (recency, frequency, spend, the customer's own rhythm)
-- from the events' (customer_id, occurred_at) index, which carries kind and amount, by UTC
-- day: purchases on one day are one purchase day, as the lifetime-value models count them.

-- name: select_features
-- One row of raw features per customer id in $2 that exists, for scoring and for
-- training (training passes the population from select_population). Each lateral
-- reads one customer's rows through its (customer_id, time) index.
SELECT c.id AS customer_id,
       c.erased_at IS NOT NULL AS erased,
       CASE WHEN c.attributes_since <= $1 THEN c.value ELSE past.value END AS value,
       CASE WHEN c.attributes_since <= $1 THEN c.segment ELSE past.segment END AS segment,
       coalesce(CASE WHEN c.attributes_since <= $1 THEN c.attributes ELSE past.attributes END,
                '{}'::jsonb)::text AS attributes_json,
       greatest(0, extract(epoch FROM $1::timestamptz
           - coalesce(c.customer_since, least(c.created_at, p.first_event_at))) / 86400)::float8 AS tenure_days,
       a.nps[1] AS latest_nps,
       a.csat[1] AS latest_csat,
       a.ces[1] AS latest_ces,
       a.nps[1] - a.nps[2] AS nps_trend,
       a.csat[1] - a.csat[2] AS csat_trend,
       a.ces[1] - a.ces[2] AS ces_trend,
       a.lowest_score_90d,
       coalesce(a.detractor_answers_90d, 0) AS detractor_answers_90d,
       coalesce(a.unhappy_critical_answers_90d, 0) AS unhappy_critical_answers_90d,
       coalesce(a.answers_90d, 0) AS answers_90d,
       coalesce(v.invitations_90d, 0) AS invitations_90d,
       v.closed_unanswered::float8 / nullif(v.closed, 0) AS non_response_rate_90d,
       coalesce(a.contact_requests_90d, 0) AS contact_requests_90d,
       (extract(epoch FROM $1::timestamptz - a.last_answered_at) / 86400)::float8 AS days_since_last_answer,
       (extract(epoch FROM $1::timestamptz - (
           SELECT max(i.occurred_at) FROM interactions i
            WHERE i.customer_id = c.id AND i.occurred_at <= $1)) / 86400)::float8 AS days_since_last_interaction,
       coalesce(t.interactions_90d, 0) AS interactions_90d,
       coalesce(t.critical_interactions_90d, 0) AS critical_interactions_90d,
       coalesce(t.touchpoints_90d, '{}') AS touchpoints_90d,
       coalesce(a.themes_90d, '{}') AS themes_90d,
       coalesce(p.purchases, 0)::int8 AS purchases_total,
       coalesce(p.purchase_value, 0)::float8 AS purchase_value_total,
       (p.purchase_value / nullif(p.purchases, 0))::float8 AS average_order_value,
       coalesce(p.purchase_days, 0) AS purchase_days,
       p.today - p.first_day AS days_since_first_purchase,
       p.today - p.last_day AS days_since_last_purchase,
       ((p.last_day - p.first_day)::float8 / nullif(p.purchase_days - 1, 0)) AS mean_days_between_purchases,
       ((p.today - p.last_day)::float8 / nullif((p.last_day - p.first_day)::float8 / nullif(p.purchase_days - 1, 0), 0))
           AS purchase_overdue_ratio,
       -- the lifetime-value models' spend: the mean of the repeat purchase days (the first one starts the clock)
       ((p.purchase_value - p.first_day_value) / nullif(p.purchase_days - 1, 0))::float8 AS repeat_purchase_value,
       coalesce(p.purchases_30d, 0)::int8 AS purchases_30d,
       coalesce(p.purchases_90d, 0)::int8 AS purchases_90d,
       coalesce(p.purchases_365d, 0)::int8 AS purchases_365d,
       coalesce(p.purchase_value_90d, 0)::float8 AS purchase_value_90d,
       coalesce(p.purchase_value_365d, 0)::float8 AS purchase_value_365d,
       (coalesce(p.purchase_value_90d, 0) - coalesce(p.purchase_value_prev_90d, 0))::float8 AS spend_trend_90d,
       coalesce(p.refunds_365d, 0)::int8 AS refunds_365d,
       (p.refund_value / nullif(p.purchase_value, 0))::float8 AS refund_share,
       coalesce(p.renewals_90d, 0)::int8 AS renewals_90d,
       coalesce(p.upgrades_90d, 0)::int8 AS upgrades_90d,
       coalesce(p.downgrades_90d, 0)::int8 AS downgrades_90d,
       coalesce(k.open_recovery_task, false) AS open_recovery_task,
       coalesce(k.recovered_before, 0) AS recovered_before,
       coalesce(k.not_recovered_before, 0) AS not_recovered_before
  FROM customers c
  -- the CRM's version valid at $1 when the current one was not yet (read only then)
  LEFT JOIN LATERAL (
        SELECT h.value, h.segment, h.attributes
          FROM customer_attribute_history h
         WHERE c.attributes_since > $1
           AND h.customer_id = c.id AND h.valid_from <= $1 AND h.valid_to > $1
         ORDER BY h.valid_from DESC
         LIMIT 1
  ) past ON true
  -- answers of the last 365 days, newest first, so the arrays hold the latest
  -- answers per kind first without a sort each; older answers say little and
  -- reading them would make serving slower as the history grows
  LEFT JOIN LATERAL (
        SELECT array_agg(r.score) FILTER (WHERE r.kind = 'nps') AS nps,
               array_agg(r.score) FILTER (WHERE r.kind = 'csat') AS csat,
               array_agg(r.score) FILTER (WHERE r.kind = 'ces') AS ces,
               max(r.answered_at) AS last_answered_at,
               count(*) FILTER (WHERE r.recent) AS answers_90d,
               count(*) FILTER (WHERE r.recent AND r.kind = 'nps' AND r.score <= 6) AS detractor_answers_90d,
               count(*) FILTER (WHERE r.recent AND r.contact_requested) AS contact_requests_90d,
               -- a moment of truth that went wrong, in the customer's own words; the
               -- interaction is looked up only for recent unhappy answers
               count(*) FILTER (WHERE r.recent AND r.unhappy AND (
                   SELECT i.critical FROM interactions i WHERE i.id = r.interaction_id)) AS unhappy_critical_answers_90d,
               -- one comment theme key per recent themed comment (themes/; the transformer counts
               -- them); the assignment is looked up only for recent answers with a comment
               array_remove(array_agg((SELECT ta.theme_id::text FROM theme_assignments ta
                                        WHERE ta.response_id = r.id))
                            FILTER (WHERE r.recent AND r.commented), NULL) AS themes_90d,
               -- the invitations answered so far, for the non-response rate below
               array_agg(r.invitation_id) FILTER (WHERE r.recent) AS answered_invitations,
               min(CASE r.kind WHEN 'nps' THEN r.score / 10.0
                               WHEN 'csat' THEN (r.score - 1) / 4.0
                               ELSE (7 - r.score) / 6.0 END) FILTER (WHERE r.recent)::float8 AS lowest_score_90d
          FROM (SELECT r.id, r.kind, r.score, r.answered_at, r.contact_requested, r.interaction_id,
                       r.invitation_id, r.comment IS NOT NULL AS commented,
                       r.answered_at > $1::timestamptz - interval '90 days' AS recent,
                       (r.kind = 'nps' AND r.score <= 6) OR (r.kind = 'csat' AND r.score <= 2)
                           OR (r.kind = 'ces' AND r.score >= 6) AS unhappy
                  FROM responses r
                 WHERE r.customer_id = c.id AND r.answered_at <= $1
                   AND r.answered_at > $1::timestamptz - interval '365 days'
                 ORDER BY r.answered_at DESC) r
  ) a ON true
  -- non-response counts only invitations whose token expired by as_of, so the
  -- answer-or-not is final; status is today's, so it is not used. An answer to an
  -- invitation sent in the window was itself given in the window, so lateral a's
  -- list of answered invitations is complete for these.
  LEFT JOIN LATERAL (
        SELECT count(*) AS invitations_90d,
               count(*) FILTER (WHERE v.expires_at <= $1) AS closed,
               count(*) FILTER (WHERE v.expires_at <= $1
                                  AND NOT coalesce(v.id = ANY(a.answered_invitations), false)) AS closed_unanswered
          FROM invitations v
         WHERE v.customer_id = c.id
           AND v.created_at > $1::timestamptz - interval '90 days' AND v.created_at <= $1
           AND v.sent_at <= $1
  ) v ON true
  -- one touchpoint key per interaction (the transformer counts them): an array
  -- costs half of a grouped jsonb object here
  LEFT JOIN LATERAL (
        SELECT count(*) AS interactions_90d,
               count(*) FILTER (WHERE i.critical) AS critical_interactions_90d,
               array_agg(i.touchpoint) AS touchpoints_90d
          FROM interactions i
         WHERE i.customer_id = c.id
           AND i.occurred_at > $1::timestamptz - interval '90 days' AND i.occurred_at <= $1
  ) t ON true
  -- every event up to $1 in one index-only scan (the index carries kind and amount), one row
  -- per UTC day: the whole purchase history, the first event (tenure) and the recent renewals
  -- and up/downgrades
  LEFT JOIN LATERAL (
        SELECT ($1::timestamptz AT TIME ZONE 'UTC')::date AS today,
               min(d.first_at) AS first_event_at,
               count(*) FILTER (WHERE d.purchases > 0) AS purchase_days,
               sum(d.purchases) AS purchases,
               sum(d.value) AS purchase_value,
               min(d.day) FILTER (WHERE d.purchases > 0) AS first_day,
               max(d.day) FILTER (WHERE d.purchases > 0) AS last_day,
               -- the first purchase day's value: the least [day, value] pair, no sort needed
               (min(ARRAY[(d.day - DATE '2000-01-01')::float8, d.value]) FILTER (WHERE d.purchases > 0))[2]
                   AS first_day_value,
               sum(d.purchases) FILTER (WHERE d.age < 30) AS purchases_30d,
               sum(d.purchases) FILTER (WHERE d.age < 90) AS purchases_90d,
               sum(d.purchases) FILTER (WHERE d.age < 365) AS purchases_365d,
               sum(d.value) FILTER (WHERE d.age < 90) AS purchase_value_90d,
               sum(d.value) FILTER (WHERE d.age >= 90 AND d.age < 180) AS purchase_value_prev_90d,
               sum(d.value) FILTER (WHERE d.age < 365) AS purchase_value_365d,
               sum(d.refunds) FILTER (WHERE d.age < 365) AS refunds_365d,
               sum(d.refund_value) AS refund_value,
               sum(d.renewals) AS renewals_90d,
               sum(d.upgrades) AS upgrades_90d,
               sum(d.downgrades) AS downgrades_90d
          FROM (SELECT (e.occurred_at AT TIME ZONE 'UTC')::date AS day,
                       ($1::timestamptz AT TIME ZONE 'UTC')::date - (e.occurred_at AT TIME ZONE 'UTC')::date AS age,
                       min(e.occurred_at) AS first_at,
                       count(*) FILTER (WHERE e.kind = 'purchase')::int AS purchases,
                       coalesce(sum(e.amount) FILTER (WHERE e.kind = 'purchase'), 0) AS value,
                       count(*) FILTER (WHERE e.kind = 'refunded')::int AS refunds,
                       coalesce(sum(abs(e.amount)) FILTER (WHERE e.kind = 'refunded'), 0) AS refund_value,
                       -- counts as int: the sums over days are then bigint, not numeric (5% of the query)
                       -- the 90-day windows of the rarer kinds are exact to the second, as before
                       count(*) FILTER (WHERE e.kind = 'renewed' AND e.recent)::int AS renewals,
                       count(*) FILTER (WHERE e.kind = 'upgraded' AND e.recent)::int AS upgrades,
                       count(*) FILTER (WHERE e.kind = 'downgraded' AND e.recent)::int AS downgrades
                  FROM (SELECT e.occurred_at, e.kind, e.amount,
                               e.occurred_at > $1::timestamptz - interval '90 days' AS recent
                          FROM customer_events e
                         WHERE e.customer_id = c.id AND e.occurred_at <= $1) e
                 GROUP BY 1, 2) d
  ) p ON true
  -- outcome and resolved_at are read as of $1: a task resolved later was still open then
  LEFT JOIN LATERAL (
        SELECT bool_or(k.resolved_at IS NULL OR k.resolved_at > $1) AS open_recovery_task,
               count(*) FILTER (WHERE k.resolved_at <= $1 AND k.outcome = 'recovered') AS recovered_before,
               count(*) FILTER (WHERE k.resolved_at <= $1 AND k.outcome = 'not_recovered')
                   AS not_recovered_before
          FROM recovery_tasks k
         WHERE k.customer_id = c.id AND k.created_at <= $1
  ) k ON true
 WHERE c.id = ANY($2::uuid[]);

-- name: select_population
-- Who could have churned after $1: a customer by then, not churned (or reactivated
-- since), not erased (erased customers leave the training data too); under the
-- non-contractual policy ($2), only customers who had bought by then. Lapsed customers
-- stay in: not having bought for months is what the model must learn from.
SELECT c.id
  FROM customers c
 WHERE c.erased_at IS NULL
   AND coalesce(c.customer_since, least(c.created_at, (
           SELECT min(f.occurred_at) FROM customer_events f WHERE f.customer_id = c.id AND f.occurred_at <= $1)))
       <= $1
   AND coalesce((SELECT e.kind
                   FROM customer_events e
                  WHERE e.customer_id = c.id AND e.kind IN ('churned', 'reactivated') AND e.occurred_at <= $1
                  ORDER BY e.occurred_at DESC
                  LIMIT 1), 'reactivated') <> 'churned'
   AND ($2 = 'contractual' OR EXISTS (
           SELECT 1 FROM customer_events e
            WHERE e.customer_id = c.id AND e.kind = 'purchase' AND e.occurred_at <= $1))
 ORDER BY c.id;

-- name: select_purchase_summaries
-- Every customer's purchase history as of $1, summarised as select_features summarises one
-- customer's (UTC days; the first purchase day starts the clock): what the lifetime-value
-- models a bundle keeps are fitted on. Training only: one pass over the events.
WITH days AS (
    SELECT e.customer_id, (e.occurred_at AT TIME ZONE 'UTC')::date AS day,
           coalesce(sum(e.amount), 0)::float8 AS value
      FROM customer_events e
     WHERE e.kind = 'purchase' AND e.occurred_at <= $1
     GROUP BY 1, 2
)
SELECT d.customer_id,
       count(*) AS purchase_days,
       ($1::timestamptz AT TIME ZONE 'UTC')::date - min(d.day) AS days_since_first_purchase,
       ($1::timestamptz AT TIME ZONE 'UTC')::date - max(d.day) AS days_since_last_purchase,
       ((sum(d.value) - (min(ARRAY[(d.day - DATE '2000-01-01')::float8, d.value]))[2])
           / nullif(count(*) - 1, 0))::float8 AS repeat_purchase_value
  FROM days d
  JOIN customers c ON c.id = d.customer_id AND c.erased_at IS NULL
 GROUP BY d.customer_id;
