"""Input types for API schemas, bounded like the database columns they end up in.

Python's int and Decimal have no limits and the database's columns do: a 23-digit id or a
price of 1e+300 must be a 422 naming the field at the edge, never an overflow (a 500) in
the database. Every integer and amount an API schema accepts uses one of these, and a
test walks the OpenAPI schema to hold every integer to a 64-bit bound.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field

from rapport.core.params import INT64_MAX, INT64_MIN

INT32_MAX = 2**31 - 1

# A primary or foreign key: positive and within BigAutoField/bigint.
Id = Annotated[int, Field(ge=1, le=INT64_MAX)]
# Any other integer stored in or compared with a 64-bit column (limits, versions).
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
# Integers stored in a 32-bit column (PositiveIntegerField quantities).
Int32 = Annotated[int, Field(ge=-INT32_MAX - 1, le=INT32_MAX)]
# DecimalField(max_digits=12, decimal_places=2): every amount column of commerce.
Money = Annotated[Decimal, Field(max_digits=12, decimal_places=2, allow_inf_nan=False)]
