"""LatentODE: shapes, masks, both time directions, and the gradient modes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.latent.batching import make_batch
from models.latent.model import GradientMode, LatentODE, ModelConfig
from models.latent.normaliser import Normaliser
from models.latent.tasks import training_task
from models.synthetic import damped_oscillator

CPU = torch.device("cpu")


def small_config(**changes) -> ModelConfig:
    settings = {"latent_dim": 4, "hidden_dim": 16, "encoder_dim": 8, "rtol": 1e-6, "atol": 1e-7}
    return ModelConfig(**{**settings, **changes})


def sample_batch(seed: int = 0, dtype: torch.dtype = torch.float64):
    dataset = damped_oscillator(6, n_points=12, seed=seed)
    normaliser = Normaliser.fit(dataset)
    rng = np.random.default_rng(seed)
    tasks = [training_task(s, normaliser, rng) for s in dataset.series]
    return tasks, make_batch(tasks, CPU, dtype)


@pytest.mark.parametrize("encoder", ["rnn", "odernn"])
def test_shapes(encoder):
    torch.manual_seed(0)
    tasks, batch = sample_batch()
    model = LatentODE(small_config(encoder=encoder), dims=2).double()
    mean, std = model.posterior(batch)
    assert mean.shape == std.shape == (6, 4) and (std > 0).all()
    z0 = mean + std * torch.randn(3, 6, 4, dtype=torch.float64)
    predicted = model.predict_targets(batch, z0)
    assert predicted.shape == (3, sum(len(t.target_times) for t in tasks), 2)
    assert model.decode(z0, batch.grid).shape == (len(batch.grid), 3, 6, 4)


@pytest.mark.parametrize("encoder", ["rnn", "odernn"])
def test_unobserved_entries_change_neither_the_encoder_nor_the_loss(encoder):
    """Whatever value sits under a missing entry, the posterior and the loss are the same."""
    torch.manual_seed(0)
    tasks, _ = sample_batch()
    model = LatentODE(small_config(encoder=encoder), dims=2).double()

    def loss_with(fill: float) -> tuple[torch.Tensor, float]:
        batch = make_batch(tasks, CPU, torch.float64)
        # Put "fill" under every missing entry: it reaches the network only if masking is broken.
        inputs = batch.encoder_inputs
        inputs[..., :2][inputs[..., 2:4] == 0] = fill
        batch.target_values[batch.target_mask == 0] = fill
        torch.manual_seed(1)
        parts = model.loss(batch, n_samples=2, kl_weight=1.0, iwae=False)
        return model.posterior(batch)[0].detach(), float(parts.loss.detach())

    (mean_a, loss_a), (mean_b, loss_b) = loss_with(0.0), loss_with(123.0)
    assert any(np.isnan(t.context_values).any() for t in tasks), "the data must miss entries"
    torch.testing.assert_close(mean_a, mean_b)
    assert loss_a == pytest.approx(loss_b, rel=1e-12)


def test_times_before_the_reference_are_solved_backwards():
    """Decoding at -1 then back to 0 from there gives z0 again: the backward solve is the
    inverse of the forward one."""
    torch.manual_seed(0)
    model = LatentODE(small_config(), dims=2).double()
    z0 = torch.randn(1, 3, 4, dtype=torch.float64)
    z = model.decode(z0, np.array([-1.0, 0.0, 0.5]))
    assert z.shape == (3, 1, 3, 4)
    torch.testing.assert_close(z[1], z0)
    back = model.decode(z[0], np.array([1.0]))[0]
    torch.testing.assert_close(back, z0, rtol=1e-5, atol=1e-5)


def test_the_discrete_adjoint_gives_the_backprop_gradient():
    _, batch = sample_batch()
    grads = {}
    for mode in (GradientMode.BACKPROP, GradientMode.DISCRETE_ADJOINT):
        torch.manual_seed(0)
        model = LatentODE(small_config(gradient=mode), dims=2).double()
        torch.manual_seed(1)
        model.loss(batch, n_samples=2, kl_weight=0.5, iwae=False).loss.backward()
        grads[mode] = torch.cat([p.grad.flatten() for p in model.parameters()])
    torch.testing.assert_close(
        grads[GradientMode.DISCRETE_ADJOINT], grads[GradientMode.BACKPROP], rtol=1e-9, atol=1e-12
    )


def test_the_continuous_adjoint_gradient_is_close_to_backprop():
    _, batch = sample_batch()
    grads = {}
    for mode in (GradientMode.BACKPROP, GradientMode.CONTINUOUS_ADJOINT):
        torch.manual_seed(0)
        model = LatentODE(small_config(gradient=mode, rtol=1e-9, atol=1e-10), dims=2).double()
        torch.manual_seed(1)
        model.loss(batch, n_samples=1, kl_weight=1.0, iwae=False).loss.backward()
        grads[mode] = torch.cat([p.grad.flatten() for p in model.parameters()])
    error = (grads[GradientMode.CONTINUOUS_ADJOINT] - grads[GradientMode.BACKPROP]).norm()
    assert float(error / grads[GradientMode.BACKPROP].norm()) < 1e-4


def test_the_iwae_bound_is_tighter_than_the_elbo():
    torch.manual_seed(0)
    _, batch = sample_batch()
    model = LatentODE(small_config(), dims=2).double()
    torch.manual_seed(1)
    elbo = model.loss(batch, n_samples=16, kl_weight=1.0, iwae=False).loss
    torch.manual_seed(1)
    iwae = model.loss(batch, n_samples=16, kl_weight=1.0, iwae=True).loss
    assert float(iwae.detach()) <= float(elbo.detach())


def test_config_json_round_trip_and_validation():
    config = small_config(encoder="odernn", gradient="backprop")
    assert ModelConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match="adaptive"):
        ModelConfig(solver="rk4")
    with pytest.raises(ValueError, match="latent_dim"):
        ModelConfig(latent_dim=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_dynamics_tanh_is_tanh_with_its_gradient(dtype):
    from models.latent.model import tanh

    x = torch.linspace(-12, 12, 2001, dtype=dtype, requires_grad=True)
    tolerance = 1e-6 if dtype == torch.float32 else 1e-14
    torch.testing.assert_close(tanh(x), torch.tanh(x), rtol=0, atol=tolerance)
    (grad,) = torch.autograd.grad(tanh(x).sum(), x)
    torch.testing.assert_close(grad, 1 - torch.tanh(x) ** 2, rtol=0, atol=10 * tolerance)
    with torch.no_grad():  # the in-place path of inference
        torch.testing.assert_close(tanh(x.detach()), torch.tanh(x.detach()), rtol=0, atol=tolerance)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_folded_dynamics_are_the_dynamics(dtype):
    from models.latent.model import Dynamics

    torch.manual_seed(0)
    dynamics = Dynamics(8, 64).to(dtype)
    for parameter in dynamics.parameters():  # weights as large as training makes them
        torch.nn.init.normal_(parameter, std=0.5)
    z = 3 * torch.randn(100, 7, 8, dtype=dtype)
    t = torch.tensor(0.0, dtype=torch.float64)
    expected = dynamics(t, z)
    tolerance = 2e-5 if dtype == torch.float32 else 1e-12  # float32: 7e-6 on values up to 14
    folded = dynamics.folded()
    torch.testing.assert_close(folded(t, z), expected, rtol=tolerance, atol=tolerance)
    with torch.no_grad():  # a copy: later training steps do not reach a folded field
        dynamics.net[0].bias.add_(1.0)
    torch.testing.assert_close(folded(t, z), expected, rtol=tolerance, atol=tolerance)
