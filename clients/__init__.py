"""Connections shared by the worker and the command line: Temporal and its payload codec."""
