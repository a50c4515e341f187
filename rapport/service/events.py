"""Domain events of service (the catalogue webhooks and journeys subscribe to)."""

from rapport.core import events

events.register_crud("ticket", "ticket")
events.register("ticket.status_changed", "A ticket's status changed (pending, solved, …).")
events.register("ticket.assigned", "A ticket was assigned to an agent, team or queue.")
events.register("ticket.merged", "A ticket was merged into another one.")
events.register("ticket.sla_warning", "A ticket's SLA target is due soon.")
events.register("ticket.sla_breached", "A ticket missed an SLA target.")
events.register("message.received", "A customer's message arrived on a ticket.")
events.register("message.sent", "An agent's reply was sent to the customer.")
events.register("message.note_added", "An agent added an internal note to a ticket.")
events.register("mailbox.sync_stale", "A mailbox has not synced for longer than its limit.")
