"""Background work of marketing: keeping dynamic segments current."""

from __future__ import annotations

from django_tasks import task

from rapport.core.permissions import system_actor
from rapport.marketing import services
from rapport.marketing.services.segments import REFRESH_BATCH


@task()
def refresh_dynamic_segments() -> int:
    """Re-evaluate the queued customers against the dynamic segments, batch by batch
    (enqueued after the outbox consumer queues customers; swept every 30 s)."""
    done = 0
    while True:
        n = services.segments_refresh_dirty()
        done += n
        if n < REFRESH_BATCH:
            return done


@task()
def rebuild_windowed_segments() -> int:
    """Once a day, move the time windows of dynamic segments on ("viewed in the last 7
    days" loses whoever's view is now 8 days old: no event says so)."""
    segments = services.dynamic_segments_with_windows()
    for segment in segments:
        services.segment_rebuild(actor=system_actor(), segment=segment)
    return len(segments)
