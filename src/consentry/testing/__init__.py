"""Synthetic music and alterations used by the demo, the tests and the benchmarks (never by a user's data path).
"""
