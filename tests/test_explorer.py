"""The critic explorer: cached training, consistent readouts, and kernel-free figures of bounded size."""

import math
import re

import pytest
import torch

from wgan_teach.explorer import CONSTRAINTS, CriticExplorer


def small_explorer():
    return CriticExplorer("8gaussians", n=128, steps=(5, 20), offsets=(0.0, 1.0), lams=(1.0, 10.0),
                          cs=(0.01, math.inf), width=16)


def test_critics_are_trained_once_and_snapshotted_at_each_step_value(one_torch_thread):
    explorer = small_explorer()
    first = explorer.critic("two-sided", 10.0, 20, 1.0)
    assert explorer.critic("two-sided", 10, 20, 1) is first  # cached, whatever the number type
    early = explorer.critic("two-sided", 10.0, 5, 1.0)
    assert early is not first
    assert not all(torch.equal(a, b) for a, b in zip(early.parameters(), first.parameters()))
    assert explorer._trained.cache_info().misses == 1
    explorer.critic("one-sided", 10.0, 5, 1.0)
    explorer.critic("clip", 0.01, 5, 1.0)
    assert explorer._trained.cache_info().misses == 3
    with pytest.raises(ValueError, match="constraint"):
        explorer.critic("GP", 10.0, 5, 1.0)
    with pytest.raises(ValueError, match="steps"):
        explorer.critic("clip", 0.01, 7, 1.0)


def test_clipped_critic_respects_c_and_infinite_c_is_no_constraint(one_torch_thread):
    explorer = small_explorer()
    clipped = explorer.critic("clip", 0.01, 20, 0.0)
    assert all(p.abs().max() <= 0.01 + 1e-9 for p in clipped.parameters())
    free = explorer.critic("clip", math.inf, 20, 0.0)
    assert max(p.abs().max() for p in free.parameters()) > 0.1
    assert explorer.setting("clip", math.inf) == "no constraint (c = ∞)"
    text = explorer.readout("two-sided", 10.0, 20, 1.0)
    exact = float(re.search(r"exact W1 = ([0-9.]+)", text).group(1))
    assert abs(exact - explorer.exact(1.0)) < 1e-3


def frames(html):
    return len(re.findall(r'"[A-Za-z0-9+/=]{200,}"', html))


def test_static_figures_cover_every_setting_and_every_slider_changes_the_frame(one_torch_thread):
    explorer = small_explorer()
    penalty = explorer.penalty_figure(static_offsets=(0.0, 1.0))
    clipping = explorer.clipping_figure(static_offsets=(0.0, 1.0))
    assert frames(penalty.static_html()) == 2 * 2 * 2 * 2  # form x lambda x steps x offset
    assert frames(clipping.static_html()) == 2 * 2 * 2  # c x steps x offset
    assert len(penalty.static_html()) + len(clipping.static_html()) < 2_000_000
    # from the initial setting, a step of any one slider draws something else
    base = penalty.frame(penalty="two-sided", lam=10.0, steps=20, offset=1.0)
    for change in (dict(penalty="one-sided"), dict(lam=1.0), dict(steps=5), dict(offset=0.0)):
        params = {**dict(penalty="two-sided", lam=10.0, steps=20, offset=1.0), **change}
        assert penalty.frame(**params) != base, change
    assert set(CONSTRAINTS) == {"two-sided", "one-sided", "clip"}
