"""Benchmarks run by `make bench`; each compares against a named reference in the same run."""
