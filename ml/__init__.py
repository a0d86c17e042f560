"""Churn and loyalty models for feedback-svc.

The service calls (all keyword arguments past the connection):

- features:   `ml.queries.fetch_features(conn, as_of=, customer_ids=)` -> rows
- scoring:    `ml.scorer.Scorer(bundle).score(rows)` -> `CustomerScore` structs
- training:   `await ml.training.train(conn, now=, config=, progress=)` -> `TrainingResult`
- comparison: `ml.evaluation.compare_models(candidate, active, rows, churned)` -> `Comparison`
- storage:    `ml.persistence.dumps(bundle)` / `ml.persistence.loads(data)` (skops, allow-listed)
- cards:      `ml.card.card_to_json(card)`, `ml.card.render_markdown(card)`, `card.metrics()`
- demo data:  `await ml.simulator.populate(conn, customers=, seed=, now=)` -> `GroundTruth`
- lifetime:   `ml.clv.CustomerLifetimeValue(horizon=).fit(m).forecast(m)`, m from
              `ml.clv.summarize_purchases(ids, days, values, cutoff=).matrix()` (docs/clv.md)

Nothing here is imported eagerly: importing `ml` costs nothing.
"""
