"""Analytics models, one module per family of metrics."""

from rapport.analytics.models.churn import ChurnModelRun, ChurnRunStatus, ChurnScore  # noqa: F401
from rapport.analytics.models.clv import ClvFit, ClvFitStatus, ClvSettings, CustomerClv  # noqa: F401
from rapport.analytics.models.recommendations import Recommendation  # noqa: F401
from rapport.analytics.models.rfm import RfmScore, RfmSegment  # noqa: F401
