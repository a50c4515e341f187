from django.urls import path

from rapport.analytics import recommend_views

urlpatterns = [
    path("recommendations/", recommend_views.recommendations, name="recommendations"),
    path(
        "recommendations/recompute/",
        recommend_views.recommendations_refresh,
        name="recommendations_refresh",
    ),
    path(
        "recommendations/evaluate/",
        recommend_views.recommendations_evaluate,
        name="recommendations_evaluate",
    ),
]
