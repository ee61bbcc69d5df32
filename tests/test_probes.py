"""Probes of a critic: steepest slope, linear pieces, weights at the clipping bounds."""

import numpy as np
import pytest
import torch
from torch import nn

from wgan_teach.penalties import layer_gradient_norms
from wgan_teach.probes import linear_pieces, max_gradient_norm, share_at_bounds

BOX = (-1.0, 1.0, -1.0, 1.0)


def test_max_gradient_norm_of_a_linear_critic_is_its_weight_norm():
    critic = nn.Sequential(nn.Linear(2, 1))
    with torch.no_grad():
        critic[0].weight.copy_(torch.tensor([[0.3, -0.4]]))
    assert max_gradient_norm(critic, BOX) == pytest.approx(0.5, rel=1e-6)


def test_linear_pieces_counts_relu_regions():
    # relu(x) + relu(y): the two axes cut the square into four pieces
    critic = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    with torch.no_grad():
        critic[0].weight.copy_(torch.eye(2))
        critic[0].bias.zero_()
    assert linear_pieces(critic, BOX, n=50) == 4
    # shifted out of the square, both units are always on: one piece
    with torch.no_grad():
        critic[0].bias.fill_(5.0)
    assert linear_pieces(critic, BOX, n=50) == 1
    with pytest.raises(ValueError, match="ReLU"):
        linear_pieces(nn.Sequential(nn.Linear(2, 1)), BOX)


def test_share_at_bounds():
    weights = np.array([0.01, -0.01, 0.00995, 0.0, 0.005, -0.0099])
    assert share_at_bounds(weights, 0.01) == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="c must be positive"):
        share_at_bounds(weights, 0.0)


def test_layer_gradient_norms_in_float64_do_not_underflow():
    """30 layers that each scale by 1e-3: the input-side gradient is ~1e-90, zero in float32."""
    layers = []
    for _ in range(30):
        layer = nn.Linear(2, 2, bias=False)
        nn.init.eye_(layer.weight)
        layer.weight.data *= 1e-3
        layers.append(layer)
    critic = nn.Sequential(*layers, nn.Linear(2, 1, bias=False))
    real, fake = torch.randn(4, 2), torch.randn(4, 2)
    assert layer_gradient_norms(critic, real, fake)[0] == 0.0
    norms64 = layer_gradient_norms(critic, real, fake, dtype=torch.float64)
    assert norms64.dtype == torch.float64 and 0 < norms64[0] < 1e-80
    assert next(critic.parameters()).dtype == torch.float32  # the probe works on a copy


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: share_at_bounds([0.01], np.inf), ValueError, "c must be finite"),
        (lambda: share_at_bounds([np.nan], 0.01), ValueError, "weights must be a non-empty array of finite numbers"),
        (lambda: share_at_bounds([], 0.01), ValueError, "weights must be a non-empty array"),
        (lambda: share_at_bounds([0.01], 0.01, tolerance=-1), ValueError, "tolerance must be >= 0"),
        (lambda: max_gradient_norm(nn.Linear(2, 1), (0, 1, 0), n=3), ValueError, "extent must be four numbers"),
        (lambda: max_gradient_norm(nn.Linear(2, 1), (1, 0, 0, 1), n=3), ValueError, "x_min < x_max"),
        (lambda: max_gradient_norm(nn.Linear(2, 1), BOX, n=0), ValueError, "n must be a positive integer"),
        (lambda: linear_pieces(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), (np.nan, 1, 0, 1)), ValueError, "extent"),
        (lambda: max_gradient_norm(None, BOX), TypeError, "critic must be a torch.nn.Module"),  # once AttributeError
        (lambda: max_gradient_norm(nn.Sequential(nn.Linear(3, 1)), BOX), ValueError,
         "critic takes 3 features .its first Linear layer., but the points of the plane have 2"),  # once torch's matmul
        (lambda: linear_pieces(nn.Sequential(nn.Linear(3, 2), nn.ReLU()), BOX), ValueError, "critic takes 3 features"),
        (lambda: layer_gradient_norms(None, torch.zeros(2, 2), torch.zeros(2, 2)), TypeError, "critic must be a torch.nn"),
        (lambda: layer_gradient_norms(nn.Linear(3, 1), torch.zeros(2, 2), torch.zeros(2, 2)), ValueError,
         r"critic cannot take the samples \(shape \(2,\), torch.float32\): mat1 and mat2"),
        (lambda: layer_gradient_norms(nn.Linear(2, 1), torch.zeros(2, 2), torch.zeros(2, 2), dtype="float64"), TypeError,
         "dtype must be a floating-point torch.dtype"),  # once "Invalid device string"
        (lambda: layer_gradient_norms(nn.ReLU(), torch.zeros(2, 2), torch.zeros(2, 2)), ValueError,
         "critic must have nn.Linear layers"),
    ],
)
def test_bad_probe_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()
