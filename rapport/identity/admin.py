"""The Django admin, for superusers only: a repair tool, not the place for daily work."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from rapport.identity.models import ApiKey, Role, RolePermission, Team, User


def superuser_only(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_superuser)


# Staff who are not superusers get the admin's login page, never its contents.
admin.site.has_permission = superuser_only  # type: ignore[method-assign]
admin.site.site_header = "Rapport administration"
admin.site.site_title = "Rapport admin"


class RolePermissionInline(admin.TabularInline[RolePermission, Role]):
    model = RolePermission
    extra = 0


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin[Role]):
    list_display = ("name", "is_admin", "requires_two_factor")
    inlines = (RolePermissionInline,)
    search_fields = ("name",)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin[Team]):
    list_display = ("name", "description")
    search_fields = ("name",)


@admin.register(User)
class UserAdmin(admin.ModelAdmin[User]):
    list_display = ("email", "full_name", "role", "is_active", "is_superuser", "last_login")
    list_filter = ("is_active", "is_superuser", "role")
    search_fields = ("email", "full_name")
    list_select_related = ("role",)
    filter_horizontal = ("teams",)
    # The password hash is not editable here; passwords change through reset or profile.
    fields = (
        "email",
        "full_name",
        "role",
        "teams",
        "is_active",
        "is_staff",
        "is_superuser",
        "last_login",
        "date_joined",
    )
    readonly_fields = ("last_login", "date_joined")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    list_display = ("name", "user", "prefix", "created_at", "expires_at", "revoked_at")
    list_select_related = ("user",)
    search_fields = ("name", "prefix", "user__email")
    # The hash is never shown or edited; a key cannot be re-created from the admin.
    exclude = ("key_hash",)
    readonly_fields = ("user", "prefix", "created_at", "last_used_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
