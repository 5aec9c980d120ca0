"""Behaviour-policy zoo: the SAC trainer that makes ramac's offline datasets (and, later, the shipped policies)."""
