"""Signals other apps listen to for what they must do alongside a customer service."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside customer_erase's transaction with `actor` and `customer`: apps that keep
# copies of the person's data (merge history, say) drop them in the same transaction.
customer_erased = Signal()
