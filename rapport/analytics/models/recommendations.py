"""Next best offer: each customer's top products they do not own yet, from item-to-item
co-occurrence in purchase histories, with the evidence that explains each one."""

from __future__ import annotations

from django.db import models


class Recommendation(models.Model):
    """One recommended product for one customer, as of the last run (the table is rewritten
    by each run). `because` is the owned product that links to it most strongly: "bought
    X; of the `because_customers` customers who bought X, `together` also bought Y". No
    `because`: a popular product, filling a list the customer's history cannot."""

    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="recommendations",
        db_index=False,
    )
    rank = models.PositiveSmallIntegerField()  # 1 = the best
    product = models.ForeignKey("commerce.Product", on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    because = models.ForeignKey(
        "commerce.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    because_customers = models.PositiveIntegerField(default=0)  # bought X
    together = models.PositiveIntegerField(default=0)  # bought X and Y
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "rank"], name="recommendation_rank"),
        ]

    def __str__(self) -> str:
        return f"#{self.rank} {self.product_id} for {self.customer_id}"

    @property
    def confidence(self) -> float:
        """The share of X's buyers who also bought Y, 0 to 100."""
        return 100 * self.together / self.because_customers if self.because_customers else 0.0
