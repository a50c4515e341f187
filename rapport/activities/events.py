"""Domain events of activities (the catalogue webhooks and journeys subscribe to)."""

from rapport.core import events

events.register_crud("activity", "activity (task, call or meeting)")
events.register("activity.completed", "An activity was marked done (a logged call is born done).")
events.register("activity.reopened", "A done or cancelled activity was opened again.")
events.register("activity.cancelled", "An activity was cancelled (a meeting's attendees are told).")
events.register(
    "activity.reminder_sent", "An activity's reminder went out (in the app and by e-mail)."
)
