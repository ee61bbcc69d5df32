"""The critic explorer: cached training, consistent readouts, and a kernel-free version of bounded size."""

import re

import torch

from wgan_teach.explorer import CONSTRAINT_CHOICES, CriticExplorer


def small_explorer():
    return CriticExplorer("8gaussians", n=128, steps=(5, 20), offsets=(0.0, 1.0), lams=(1.0, 10.0), cs=(0.01,))


def test_critics_are_trained_once_and_snapshotted_at_each_step_value():
    explorer = small_explorer()
    first = explorer.critic("GP", 10.0, 0.01, 20, 1.0)
    assert explorer.critic("GP", 10.0, 0.01, 20, 1.0) is first  # cached
    early = explorer.critic("GP", 10.0, 0.01, 5, 1.0)
    assert early is not first
    assert not all(torch.equal(a, b) for a, b in zip(early.parameters(), first.parameters()))
    assert explorer._trained.cache_info().misses == 1
    # lam is irrelevant to clipping and to no constraint: those share one training per offset
    explorer.critic("clip", 1.0, 0.01, 5, 1.0)
    explorer.critic("clip", 10.0, 0.01, 5, 1.0)
    assert explorer._trained.cache_info().misses == 2


def test_clipped_critic_weights_respect_c_and_readout_reports_the_exact_w1():
    explorer = small_explorer()
    critic = explorer.critic("clip", 10.0, 0.01, 20, 0.0)
    assert all(p.abs().max() <= 0.01 + 1e-9 for p in critic.parameters())
    text = explorer.readout("GP", 10.0, 0.01, 20, 1.0)
    exact = float(re.search(r"exact W1 = ([0-9.]+)", text).group(1))
    assert abs(exact - explorer._exact(1.0)) < 1e-3


def test_static_explorer_covers_every_constraint_and_step_at_fixed_strength():
    explorer = small_explorer()
    figure = explorer.figure(static_offsets=(0.0, 1.0))
    html = figure.static_html()
    frames = len(re.findall(r'"[A-Za-z0-9+/=]{200,}"', html))
    assert frames == len(CONSTRAINT_CHOICES) * 2 * 2
    assert len(html) < 2_000_000
