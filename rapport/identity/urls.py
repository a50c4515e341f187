from django.urls import path

from rapport.identity import settings_views, views

app_name = "identity"

urlpatterns = [
    path("login/", views.login, name="login"),
    path("login/verify/", views.login_verify, name="login_verify"),
    path("logout/", views.logout, name="logout"),
    # Password reset (the middleware lets these through before two-factor login).
    path("password-reset/", views.password_reset, name="password_reset"),
    path("password-reset/sent/", views.password_reset_sent, name="password_reset_sent"),
    path("password-reset/done/", views.password_reset_complete, name="password_reset_complete"),
    path(
        "password-reset/<uidb64>/<token>/",
        views.password_reset_confirm,
        name="password_reset_confirm",
    ),
    # The user's own account.
    path("profile/", views.profile, name="profile"),
    path("profile/password/", views.profile_password, name="profile_password"),
    path("profile/locale/", views.profile_locale, name="profile_locale"),
    path("profile/sessions/end/", views.profile_sessions_end, name="profile_sessions_end"),
    path("two-factor/", views.two_factor, name="two_factor"),
    path("two-factor/setup/", views.two_factor_setup, name="two_factor_setup"),
    path("two-factor/confirm/", views.two_factor_confirm, name="two_factor_confirm"),
    path("two-factor/backup-codes/", views.two_factor_backup_codes, name="two_factor_backup_codes"),
    path("two-factor/disable/", views.two_factor_disable, name="two_factor_disable"),
    path("two-factor/verify/", views.two_factor_verify, name="two_factor_verify"),
    path("api-keys/", views.api_keys, name="api_keys"),
    path("api-keys/<int:key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    # Settings, for administrators.
    path("settings/", settings_views.settings_home, name="settings"),
    path("settings/users/", settings_views.users, name="settings_users"),
    path("settings/users/new/", settings_views.user_create, name="settings_user_create"),
    path("settings/users/<int:user_id>/", settings_views.user_edit, name="settings_user"),
    path(
        "settings/users/<int:user_id>/unlock/",
        settings_views.user_unlock,
        name="settings_user_unlock",
    ),
    path(
        "settings/users/<int:user_id>/reset-two-factor/",
        settings_views.user_two_factor_reset,
        name="settings_user_two_factor_reset",
    ),
    path(
        "settings/users/<int:user_id>/password-link/",
        settings_views.user_password_link,
        name="settings_user_password_link",
    ),
    path("settings/teams/", settings_views.teams, name="settings_teams"),
    path("settings/teams/new/", settings_views.team_edit, name="settings_team_create"),
    path("settings/teams/<int:team_id>/", settings_views.team_edit, name="settings_team"),
    path(
        "settings/teams/<int:team_id>/delete/",
        settings_views.team_delete,
        name="settings_team_delete",
    ),
    path("settings/roles/", settings_views.roles, name="settings_roles"),
    path("settings/roles/new/", settings_views.role_edit, name="settings_role_create"),
    path("settings/roles/<int:role_id>/", settings_views.role_edit, name="settings_role"),
    path(
        "settings/roles/<int:role_id>/delete/",
        settings_views.role_delete,
        name="settings_role_delete",
    ),
]
