"""Networks: the twin IQN critic and the diffusion denoiser."""

from ramac.nn.critic import TwinIQNCritic
from ramac.nn.denoiser import Denoiser

__all__ = ["Denoiser", "TwinIQNCritic"]
