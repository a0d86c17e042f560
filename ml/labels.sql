-- name: select_labels
-- What happened in the horizon after a cut-off ($1 .. $1 + $3 days], for the
-- customers in $2: did they churn, and what was their first NPS answer (the
-- loyalty label: 9-10 is a promoter). Churn follows the label policy $4
-- (docs/churn-labels.md): `contractual`, a `churned` event in the window;
-- `non_contractual`, no purchase in it. Training only; read by (customer_id, time).
SELECT c.id AS customer_id,
       CASE WHEN $4 = 'contractual'
            THEN EXISTS (SELECT 1
                           FROM customer_events e
                          WHERE e.customer_id = c.id AND e.kind = 'churned'
                            AND e.occurred_at > $1 AND e.occurred_at <= $1 + make_interval(days => $3))
            ELSE NOT EXISTS (SELECT 1
                               FROM customer_events e
                              WHERE e.customer_id = c.id AND e.kind = 'purchase'
                                AND e.occurred_at > $1 AND e.occurred_at <= $1 + make_interval(days => $3))
       END AS churned,
       (SELECT r.score
          FROM responses r
         WHERE r.customer_id = c.id AND r.kind = 'nps'
           AND r.answered_at > $1 AND r.answered_at <= $1 + make_interval(days => $3)
         ORDER BY r.answered_at
         LIMIT 1) AS next_nps
  FROM unnest($2::uuid[]) AS c(id);
