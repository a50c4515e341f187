"""Domain events of marketing (the catalogue webhooks and journeys subscribe to).

Page and product views are too many to be outbox events one by one: a batch that holds
events of known customers emits one `web_events.ingested` (the customers and types it
touched, which the segment refresher reads); the events a journey starts on (signup,
cart, checkout, custom) are one `web_event.received` each."""

from rapport.core import events

events.register(
    "web_event.received",
    "A storefront event other than a page or product view arrived (signup, cart updated, "
    "checkout started, order placed, custom).",
)
events.register(
    "web_events.ingested",
    "A batch of storefront events arrived: the customers it concerned and the event types.",
)
events.register(
    "visitor.identified",
    "An anonymous visitor was stitched to a customer (their earlier events now are the "
    "customer's).",
)
events.register_crud("segment", "segment")
events.register("segment.entered", "A customer entered a segment.")
events.register("segment.left", "A customer left a segment.")
