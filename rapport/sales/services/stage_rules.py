"""What happens when a deal enters a stage. Called by the one function that moves a deal
(`deals._enter_stage`), which every path uses — the board, the API, imports and bulk
creates — so a rule fires exactly once per entry and no path can skip it.

Rules today: required fields (the move is refused, naming what is missing) and notify the
owner (an outbox event, `deal.owner_notified`: main has no in-app notifications yet, so
webhooks and, later, the notifications consumer deliver it). "Create a task" waits for
the activities app's task service (a named gap, see docs/sales.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError

from rapport.core import outbox
from rapport.sales.models import Deal, Stage

# Deal fields a stage may require, with how they read in the refusal.
RULE_FIELDS: dict[str, str] = {
    "amount": "amount",
    "expected_close_date": "expected close date",
    "next_step": "next step",
    "competitors": "competitors",
    "lost_reason": "lost reason",
}


def check_rule_fields(names: Iterable[str]) -> list[str]:
    names = [str(n).strip() for n in names if str(n).strip()]
    unknown = [n for n in names if n not in RULE_FIELDS]
    if unknown:
        raise ValidationError(
            f"A stage cannot require {', '.join(unknown)}; choose from {', '.join(RULE_FIELDS)}."
        )
    return list(dict.fromkeys(names))


def _missing(deal: Deal, stage: Stage) -> list[str]:
    missing = []
    for name in stage.required_fields or []:
        value = getattr(deal, name, None)
        if (name == "amount" and (value is None or value <= 0)) or (name != "amount" and not value):
            missing.append(name)
    return missing


def check_entry(deal: Deal, stage: Stage) -> None:
    """Refuse the entry when the stage requires fields the deal lacks."""
    missing = _missing(deal, stage)
    if missing:
        labels = ", ".join(RULE_FIELDS[m] for m in missing)
        raise ValidationError(
            {
                "stage_id": f"To enter {stage.name}, fill in: {labels}.",
                **dict.fromkeys(missing, "Required to enter this stage."),
            }
        )


def after_entry(*, actor: Any, deal: Deal, stage: Stage, via: str) -> None:
    """The rules that act once the deal stands in the stage."""
    if stage.notify_owner and deal.owner_id:
        outbox.emit(
            "deal.owner_notified",
            {
                "deal_id": deal.pk,
                "deal_name": deal.name,
                "recipient_id": deal.owner_id,
                "stage_id": stage.pk,
                "stage_name": stage.name,
                "via": via,
            },
            aggregate=deal,
        )
