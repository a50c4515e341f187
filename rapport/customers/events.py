"""Domain events of the customer data hub (the catalogue webhooks subscribe to)."""

from rapport.core import events

events.register_crud("customer", "customer (person or organization)")
events.register("interaction.created", "An interaction was added to a customer's timeline.")
events.register_crud("relationship", "relationship between two customers")
events.register("consent.recorded", "A customer granted or withdrew consent.")
events.register("customer.erased", "A person's personal data was erased (GDPR).")
events.register("customer.merged", "Two customers were merged into one.")
events.register("customer.unmerged", "A merge of two customers was undone.")
events.register_crud("affiliation", "person's role at an organization")
events.register_crud("custom_field", "custom field definition")
events.register("customer.exported", "A person's personal data was exported (GDPR).")
