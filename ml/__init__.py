"""Features, simulator, training, evaluation and persistence of the churn and loyalty models."""
