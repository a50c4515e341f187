"""Domain events of reporting."""

from rapport.core import events

events.register_crud("report", "saved report")
events.register("report.shared", "Who a saved report is shared with changed.")
