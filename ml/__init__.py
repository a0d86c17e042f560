"""Churn and loyalty models for feedback-svc.

The service calls (all keyword arguments past the connection):

- features:   `ml.queries.fetch_features(conn, as_of=, customer_ids=)` -> rows (every input as
              of `as_of`, CRM attributes from their history, the whole purchase history)
- scoring:    `ml.scorer.Scorer(bundle).score(rows)` -> `CustomerScore` structs (churn, band,
              loyalty or why not, lifetime value, value at risk, reasons)
- training:   `await ml.training.train(conn, now=, config=, progress=)` -> `TrainingResult`;
              `TrainingConfig(labels="contractual" | "non_contractual", horizon_days=)`
              (docs/churn-labels.md)
- comparison: `ml.evaluation.compare_models(candidate, active, rows, churned)` -> `Comparison`
- storage:    `ml.persistence.dumps(bundle)` / `ml.persistence.loads(data)` (skops, allow-listed)
- cards:      `ml.card.card_to_json(card)`, `ml.card.render_markdown(card)`, `card.metrics()`
- demo data:  `await ml.simulator.populate(conn, customers=, seed=, now=)` -> `GroundTruth`
- lifetime:   `ml.clv.CustomerLifetimeValue(horizon=).fit(m).forecast(m)`, m from
              `ml.clv.summarize_purchases(ids, days, values, cutoff=).matrix()` (docs/clv.md);
              in a bundle, `ml.history.PurchaseModel` fitted on feature rows

Nothing here is imported eagerly: importing `ml` costs nothing.
"""
