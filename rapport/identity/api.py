"""Identity endpoints: who am I."""

from __future__ import annotations

from ninja import Router, Schema

from rapport.identity.http import UserRequest

router = Router(tags=["identity"])


class MeOut(Schema):
    id: int
    email: str
    full_name: str
    role: str | None
    api_key: str | None


@router.get("/me", response=MeOut, summary="The authenticated user")
def me(request: UserRequest) -> MeOut:
    user = request.user
    return MeOut(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        role=user.role.name if user.role else None,
        api_key=str(user.api_key) if user.api_key else None,
    )
