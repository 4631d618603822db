"""The adaptive early-stop policy: skip the separate pass while it saves nothing."""

import pytest

from nerfspec.train.early_stop import EarlyStopPolicy, resolve_mode, separate_pass_cost


def test_resolve_mode():
    assert resolve_mode("auto", "cpu") == "adaptive" and resolve_mode("auto", "cuda") == "separate"
    assert resolve_mode("fused", "cpu") == "fused"
    with pytest.raises(ValueError):
        resolve_mode("sometimes", "cpu")


def test_cost_model():
    assert separate_pass_cost(1.0, 1.0) == pytest.approx(1.5)  # nothing dropped: pure overhead
    assert separate_pass_cost(0.6, 0.5, query_cost=0.5) == pytest.approx(0.8)


def test_adaptive_policy_skips_the_pass_until_it_pays_and_probes_again():
    policy = EarlyStopPolicy("adaptive", probe_every=4)
    assert policy.choose() == "separate"  # nothing known yet: probe
    policy.observe("separate", traversed=1000, evaluated=1000, kept=950)  # nothing opaque yet
    assert policy.choose() == "none"
    for _ in range(4):
        policy.observe(policy.choose(), 1000, 0, 1000)
    assert policy.choose() == "separate"  # the probe comes back after probe_every steps
    for _ in range(20):  # surfaces got sharp: the pass keeps 40% after evaluating 50%
        policy.observe("separate", 1000, 500, 400)
    assert policy.choose() == "separate"
    state = policy.state_dict()
    again = EarlyStopPolicy("adaptive", probe_every=4)
    again.load_state_dict(state)
    assert again.choose() == policy.choose() and again.state_dict() == state


def test_fixed_modes_never_change():
    for mode in ("separate", "fused", "none"):
        policy = EarlyStopPolicy(mode)
        policy.observe(mode, 100, 100, 100)
        assert policy.choose() == mode
