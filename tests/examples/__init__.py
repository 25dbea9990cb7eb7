"""Tests of the examples: the credit-application workflow, its handlers and its run through the runtime."""
