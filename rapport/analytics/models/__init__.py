"""Analytics models, one module per family of metrics."""

from rapport.analytics.models.recommendations import Recommendation  # noqa: F401
from rapport.analytics.models.rfm import RfmScore, RfmSegment  # noqa: F401
