"""The standards service."""
