"""Evaluation: batched rollouts in the hazard-wrapped envs and episode metrics."""
