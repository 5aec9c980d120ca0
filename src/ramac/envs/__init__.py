"""Environments: the 2-D risky bandit (and, later, hazard-wrapped MuJoCo tasks)."""
