"""Benchmarks that print Civic's cost against a raw-AMQP baseline: `python -m bench`."""
