"""Actors: a network and a sampling process behind the protocol of :mod:`ramac.actors.base`."""
