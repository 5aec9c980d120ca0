"""Training machinery used by the learners: random streams, gradients, parameter averaging, memory."""
