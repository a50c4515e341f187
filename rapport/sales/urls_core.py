"""Leads, deals, the board and pipeline settings (mounted at /sales/)."""

from django.urls import path

from rapport.sales import views, web_form

urlpatterns = [
    path("leads/", views.lead_list, name="lead_list"),
    path("leads/new/", views.lead_create, name="lead_create"),
    path("leads/<int:pk>/", views.lead_detail, name="lead_detail"),
    path("leads/<int:pk>/edit/", views.lead_edit, name="lead_edit"),
    path("leads/<int:pk>/convert/", views.lead_convert, name="lead_convert"),
    path("leads/<int:pk>/disqualify/", views.lead_disqualify, name="lead_disqualify"),
    path("deals/", views.deal_list, name="deal_list"),
    path("deals/new/", views.deal_create, name="deal_create"),
    path("deals/<int:pk>/", views.deal_detail, name="deal_detail"),
    path("deals/<int:pk>/edit/", views.deal_edit, name="deal_edit"),
    path("deals/<int:pk>/move/", views.deal_move, name="deal_move"),
    path("deals/<int:pk>/win/", views.deal_win, name="deal_win"),
    path("deals/<int:pk>/lose/", views.deal_lose, name="deal_lose"),
    path("board/", views.board, name="board_default"),
    path("board/<int:pk>/", views.board, name="board"),
    path("pipelines/", views.pipeline_settings, name="pipeline_settings_default"),
    path("pipelines/new/", views.pipeline_add, name="pipeline_add"),
    path("pipelines/<int:pk>/", views.pipeline_settings, name="pipeline_settings"),
    path("pipelines/<int:pk>/stages/", views.stage_add, name="stage_add"),
    path("stages/<int:pk>/", views.stage_edit, name="stage_edit"),
    path("forms/lead/", web_form.web_lead, name="web_lead"),
]
