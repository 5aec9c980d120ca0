from __future__ import annotations

import pytest
import torch

from ramac.nn.denoiser import Denoiser
from ramac.nn.functional import sinusoidal_embedding


def test_denoiser_fast_path_equals_concatenated_input():
    torch.manual_seed(0)
    net = Denoiser(obs_dim=4, action_dim=2, hidden_dim=32)
    x, t, s = torch.randn(5, 2), torch.tensor([0, 1, 2, 3, 4]), torch.randn(5, 4)
    emb = net.time_out(torch.nn.functional.mish(net.time_in(sinusoidal_embedding(t, 16))))
    h = torch.nn.functional.mish(net.layer1(torch.cat((x, emb, s), 1)))
    h = torch.nn.functional.mish(net.layer3(torch.nn.functional.mish(net.layer2(h))))
    assert torch.allclose(net(x, t, s), net.out(h), atol=1e-5)


def test_input_scale_multiplies_the_noisy_action_only():
    torch.manual_seed(0)
    net = Denoiser(obs_dim=4, action_dim=2, hidden_dim=32)
    scaled = Denoiser(obs_dim=4, action_dim=2, hidden_dim=32, input_scale=20.0)
    scaled.load_state_dict(net.state_dict())
    x, t, s = torch.randn(5, 2), torch.tensor([0, 1, 2, 3, 4]), torch.randn(5, 4)
    assert torch.allclose(scaled(x, t, s), net(20.0 * x, t, s), atol=1e-5)
    assert not torch.allclose(scaled(x, t, s), net(x, t, s))
    with pytest.raises(ValueError, match="input_scale"):
        Denoiser(4, 2, input_scale=0.0)
