"""Offline data: transitions, the device-resident sampler, hazards on datasets and the Lightning data modules."""
