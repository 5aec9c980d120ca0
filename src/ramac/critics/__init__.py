"""Critics: ensembles of value networks that return ``[E, B(, N)]``."""
