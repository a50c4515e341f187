"""The storefront event types: what the events API accepts, what a public tracker key may
send, and which types reach the timeline and the outbox one by one."""

from __future__ import annotations

import re

# What a browser may send with a public tracker key: never an identity, never an order.
BROWSER_TYPES = frozenset({"page_view", "product_view", "cart_updated", "checkout_started"})
ORDER_TYPES = frozenset({"order_placed", "order_updated"})
# Events that may carry the customer's identity (login, signup, a form, an e-mail click):
# any event may, these are the usual ones.
IDENTIFY_TYPES = frozenset({"signup", "login", "identify", "form_submitted", "email_click"})
STANDARD_TYPES = BROWSER_TYPES | ORDER_TYPES | IDENTIFY_TYPES
# Custom types are namespaced, so a future standard type can never change their meaning.
CUSTOM_TYPE = re.compile(r"^custom\.[a-z0-9][a-z0-9_.-]{0,55}$")
# Page, product and cart events stay off the timeline: a shopper makes hundreds a week and
# they would bury the conversations and orders. The 360 page shows them in its own "Web
# activity" panel; orders reach the timeline through commerce's own entry.
TIMELINE_TYPES = frozenset({"signup", "checkout_started", "form_submitted"})
# Views are the bulk of the traffic: no outbox row each (segments learn of them through
# the batch's `web_events.ingested`).
QUIET_TYPES = frozenset({"page_view", "product_view"})


def is_known_type(value: str) -> bool:
    return value in STANDARD_TYPES or bool(CUSTOM_TYPE.match(value))
