"""Generative processes without parameters (noise schedules, reverse chains, BC losses), typed against the
conditional field of :mod:`ramac.nn.denoiser`."""
