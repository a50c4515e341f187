"""Domain events of sales (the catalogue webhooks and journeys subscribe to)."""

from rapport.core import events

events.register_crud("lead", "lead")
events.register("lead.disqualified", "A lead was disqualified (with a reason).")
events.register("lead.converted", "A lead became a customer (new or matched) and a deal.")
events.register("lead.touched", "A known, open lead reached us again (a second form).")
events.register_crud("pipeline", "sales pipeline")
events.register_crud("stage", "pipeline stage")
events.register_crud("deal", "deal")
events.register("deal.stage_changed", "A deal entered another stage (history kept).")
events.register("deal.won", "A deal was won.")
events.register("deal.lost", "A deal was lost (with a reason).")
events.register(
    "deal.owner_notified",
    "A stage rule asks to tell the deal's owner that the deal entered a stage.",
)
