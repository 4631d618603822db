"""The adaptive early-stop policy: skip the separate pass while it saves nothing."""

import pytest

import time

import torch

from nerfspec.train.early_stop import (
    QUERY_COST,
    EarlyStopPolicy,
    field_query_cost,
    measure_query_cost,
    policy_for,
    resolve_mode,
    separate_pass_cost,
)


def test_resolve_mode():
    assert resolve_mode("auto") == "adaptive" and resolve_mode("fused") == "fused"
    with pytest.raises(ValueError):
        resolve_mode("sometimes")


def test_a_gpu_measures_its_query_cost_and_the_cpu_keeps_its_measured_constant():
    measured = []

    def measure():
        measured.append(1)
        return 0.8

    cpu = policy_for("auto", "cpu", measure)
    assert cpu.mode == "adaptive" and cpu.query_cost == QUERY_COST and not measured
    gpu = policy_for("auto", "cuda", measure)
    assert gpu.mode == "adaptive" and gpu.query_cost == 0.8 and measured == [1]
    assert policy_for("separate", "cuda", measure).mode == "separate" and measured == [1]  # no q needed
    # the measured q decides: a pass that evaluates everything and keeps 40% pays at q = 0.5, not at 0.8
    for policy, expected in ((EarlyStopPolicy("adaptive"), "separate"), (gpu, "none")):
        policy.observe("separate", traversed=1000, evaluated=1000, kept=400)
        assert policy.choose() == expected
    again = EarlyStopPolicy("adaptive")
    again.load_state_dict(gpu.state_dict())  # a resumed run keeps the q it measured
    assert again.query_cost == 0.8 and again.choose() == "none"


def test_measure_query_cost_is_the_ratio_of_the_medians():
    q = measure_query_cost(lambda: time.sleep(0.02), lambda: time.sleep(0.08), repeats=3)
    assert 0.15 < q < 0.35


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


class SlowField(torch.nn.Module):
    """A field whose density query takes 20 ms and whose forward pass 60 ms (backward ~0)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(3))

    def density(self, x):
        time.sleep(0.02)
        return x @ self.w

    def forward(self, x, d):
        time.sleep(0.06)
        return x @ self.w, d * self.w


def test_field_query_cost_times_the_density_against_forward_and_backward():
    field = SlowField()
    q = field_query_cost(field, torch.tensor([-1.0, -1, -1, 1, 1, 1]), 256, torch.Generator().manual_seed(0))
    assert 0.2 < q < 0.45  # 20 / 60 ms
    assert field.w.grad is None  # the backward pass's gradients are cleared
