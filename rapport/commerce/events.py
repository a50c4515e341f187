"""Domain events of commerce (the catalogue webhooks and journeys subscribe to)."""

from rapport.core import events

events.register_crud("product", "catalogue product")
events.register_crud("order", "order")
events.register("order.status_changed", "An order's status changed (paid, shipped, …).")
events.register("order.cancelled", "An order was cancelled.")
events.register_crud("shipment", "shipment")
events.register(
    "shipment.status_changed", "A shipment's status changed (in transit, delivered, …)."
)
events.register("shipment.delivered", "A shipment reached the customer.")
