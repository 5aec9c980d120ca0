"""Objectives: pure losses, targets, risk distortions and estimators (no parameters, no optimizers)."""
