"""Analytics models, one module per family of metrics."""

from rapport.analytics.models.rfm import RfmScore, RfmSegment  # noqa: F401
