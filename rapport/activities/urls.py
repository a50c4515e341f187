from django.urls import path

from rapport.activities import views

app_name = "activities"

urlpatterns = [
    path("", views.my_day, name="my_day"),
    path("badge/overdue/", views.overdue_badge, name="overdue_badge"),
    path("list/", views.activity_list, name="list"),
    path("new/", views.activity_form, name="create"),
    path("<int:pk>/", views.activity_detail, name="detail"),
    path("<int:pk>/edit/", views.activity_form, name="edit"),
    path("<int:pk>/delete/", views.activity_delete, name="delete"),
    path("<int:pk>/meeting.ics", views.activity_ics, name="ics"),
    path("<int:pk>/<str:action>/", views.activity_action, name="action"),
    path("customer/<int:customer_pk>/log-call/", views.customer_log_call, name="log_call"),
    path("customer/<int:customer_pk>/add-task/", views.customer_add_task, name="add_task"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read-all/", views.notifications_read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/open/", views.notification_open, name="notification_open"),
    path("badge/unread/", views.unread_badge, name="unread_badge"),
]
