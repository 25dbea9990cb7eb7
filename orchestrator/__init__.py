"""Orchestrator: a durable, AWS Step Functions-compatible workflow engine."""
__version__ = "0.1.0"
