"""Marketing's writes, one module per business area, re-exported here."""

from rapport.marketing.services.ingest import (
    MAX_BATCH,
    EventIn,
    EventOutcome,
    IngestResult,
    web_events_ingest,
)
from rapport.marketing.services.segments import (
    SegmentInput,
    customer_ids_of_event,
    dynamic_segments_with_windows,
    live_customers,
    live_filter,
    segment_create,
    segment_delete,
    segment_matching,
    segment_payload,
    segment_rebuild,
    segment_update,
    segments_queue_customers,
    segments_refresh_dirty,
)
from rapport.marketing.services.tracker import (
    clean_origins,
    tracker_key_create,
    tracker_key_update,
)

__all__ = [
    "MAX_BATCH",
    "EventIn",
    "EventOutcome",
    "IngestResult",
    "SegmentInput",
    "clean_origins",
    "customer_ids_of_event",
    "dynamic_segments_with_windows",
    "live_customers",
    "live_filter",
    "segment_create",
    "segment_delete",
    "segment_matching",
    "segment_payload",
    "segment_rebuild",
    "segment_update",
    "segments_queue_customers",
    "segments_refresh_dirty",
    "tracker_key_create",
    "tracker_key_update",
    "web_events_ingest",
]
