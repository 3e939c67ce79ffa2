"""Routing state and choices: which endpoints to try for a call, in what order, and what each endpoint can take
(circuit breakers, latency windows, in-flight caps)."""
