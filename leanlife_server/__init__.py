"""LeanLife: an explanation-driven annotation server with an active-learning loop."""

__version__ = "0.1.0"
