from dataclasses import replace

from sim.model import simulate
from sim.result import Result
from sim.risk.replications import Risk, replicate, replication_seed, risk_of
from sim.scenario import Scenario

STEADY = Scenario.create(
    stack="modern", client="external", arrival="poisson:55", duration=10.0, pool_timeout=1.0
)


def test_the_representative_run_is_the_run_at_the_users_seed():
    first, risk = replicate(STEADY, 3, simulate)
    assert first == simulate(STEADY)
    assert risk.replications == 3


def test_replication_seeds_differ_and_are_reproducible():
    seeds = [replication_seed(7, k) for k in range(50)]
    assert seeds[0] == 7 and len(set(seeds)) == 50
    assert seeds == [replication_seed(7, k) for k in range(50)]
    assert all(0 <= s < 2**63 for s in seeds)


def test_risk_counts_freezes_and_collapses_from_the_summaries():
    summaries = [simulate(STEADY.replace(seed=replication_seed(1, k))).summary for k in range(12)]
    risk = risk_of(summaries)
    froze = [s for s in summaries if s.first_freeze_at is not None]
    assert risk.p_freeze == round(len(froze) / 12, 6)
    assert risk.p_collapse == round(sum(s.recovered is False for s in summaries) / 12, 6)
    lo, hi = risk.p_freeze_ci
    assert lo <= risk.p_freeze <= hi


def test_quantiles_of_runs_that_never_froze_are_not_made_up():
    calm = simulate(STEADY.replace(arrival="poisson:5"))
    assert calm.summary.first_freeze_at is None
    risk = risk_of([calm.summary] * 4)
    assert risk.p_freeze == 0.0 and risk.first_freeze_quantiles == {
        "0.1": None,
        "0.5": None,
        "0.9": None,
    }
    assert risk.p_freeze_ci[1] > 0.4  # four calm runs cannot rule much out


def test_risk_travels_in_the_result_json():
    first, risk = replicate(STEADY, 2, simulate)
    result = replace(first, risk=risk.to_dict())
    again = Result.from_json(result.to_json())
    assert Risk.from_dict(again.risk) == risk
    assert "risk" not in first.to_dict()  # a plain run's JSON is what it always was


def test_same_seed_same_risk():
    assert replicate(STEADY, 4, simulate)[1] == replicate(STEADY, 4, simulate)[1]


def test_quantile_intervals_are_the_binomial_order_statistics():
    base = simulate(STEADY).summary
    summaries = [replace(base, first_freeze_at=float(t)) for t in range(1, 41)]
    risk = risk_of(summaries)
    # n = 40, q = 0.5: Binomial(40, 0.5) quantiles 0.025 and 0.975 are 14 and 26 -> X(14), X(27)
    assert risk.first_freeze_quantiles["0.5"] == 20.0
    assert risk.first_freeze_quantiles_ci["0.5"] == (14.0, 27.0)
    # an upper rank past the last run that froze is "after the run"
    calm = [replace(base, first_freeze_at=None)] * 20
    assert risk_of(summaries[:20] + calm).first_freeze_quantiles_ci["0.9"] == (None, None)


def test_replications_in_worker_processes_give_the_in_process_risk():
    from sim.sweep.executors import LocalProcesses
    from sim.sweep.keys import Settings

    pool = LocalProcesses(2, Settings())
    try:
        spread = replicate(STEADY, 6, simulate, calls=pool.calls)
    finally:
        pool.close()
    assert spread == replicate(STEADY, 6, simulate)
