"""Persistence below the runtime: the unit of work and the one optimistic-retry policy.

Runtime and services both write through here; nothing here imports them."""
