"""Contracts that cross a service boundary: topics, the event envelope, event payloads, shared enums.

Every service and every outside subscriber uses this package; nothing here does I/O.
"""
