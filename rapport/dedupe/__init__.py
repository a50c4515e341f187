"""Duplicate detection: a probabilistic record-linkage engine over the customer table."""
