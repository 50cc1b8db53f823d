"""Contracts that cross a service boundary: topics, event envelope, event payloads, shared enums.

Every service and every outside subscriber uses this package; nothing here does I/O.
"""
