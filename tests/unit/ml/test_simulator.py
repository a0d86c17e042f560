from datetime import UTC, datetime, timedelta

import numpy as np

from ml._world import simulate_world
from ml.simulator import GroundTruth


def test_the_same_seed_gives_the_same_world() -> None:
    one = simulate_world(customers=300, seed=5, periods=4, period_days=90.0)
    two = simulate_world(customers=300, seed=5, periods=4, period_days=90.0)
    other = simulate_world(customers=300, seed=6, periods=4, period_days=90.0)
    np.testing.assert_array_equal(one.responses["score"], two.responses["score"])
    np.testing.assert_array_equal(one.truth[270.0][1], two.truth[270.0][1])
    assert len(one.interactions) != len(other.interactions)


def test_known_causes_drive_the_truth() -> None:
    world = simulate_world(customers=6000, seed=2, periods=4, period_days=90.0)
    alive, probability = world.truth[270.0]
    tickets = world.customers.tickets[alive]
    plan = world.customers.plan[alive]
    assert probability[tickets >= 3].mean() > 1.5 * probability[tickets == 0].mean()
    assert probability[plan == 0].mean() > probability[plan == 2].mean()  # basic churns more than premium
    assert 0.05 < probability.mean() < 0.2
    # everyone answers differently: some never, some often
    answers = np.bincount(world.responses["customer"], minlength=6000)
    assert (answers == 0).mean() > 0.05
    assert answers.max() >= 8


def test_ground_truth_points_at_the_holdout_window() -> None:
    now = datetime(2026, 11, 23, tzinfo=UTC)
    cutoff = now - timedelta(days=90)
    truth = GroundTruth(now=now, horizon_days=90, by_cutoff={cutoff: {}}, counts={})
    assert truth.holdout_cutoff == cutoff
    assert truth.churn_probability == {}


def test_ces_answers_run_from_easy_to_very_difficult() -> None:
    """CES 1 = very easy, 7 = very difficult: 6-7 are the unhappy answers, as in the surveys."""
    world = simulate_world(customers=3000, seed=3, periods=4, period_days=90.0)
    r = world.responses
    ces = r["kind"] == 2
    assert set(np.unique(r["score"][ces]).tolist()) <= set(range(1, 8))
    np.testing.assert_array_equal(r["unhappy"][ces], r["score"][ces] >= 6)
    np.testing.assert_array_equal(r["unhappy"][r["kind"] == 1], r["score"][r["kind"] == 1] <= 2)
    # most customers find things easy, so low CES scores are the common ones
    assert np.median(r["score"][ces]) <= 3
