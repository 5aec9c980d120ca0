"""Generative samplers (noise schedules, reverse chains, BC losses)."""
