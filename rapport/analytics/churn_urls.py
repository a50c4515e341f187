from django.urls import path

from rapport.analytics import churn_views

urlpatterns = [
    path("", churn_views.churn_model, name="churn_model"),
    path("train/", churn_views.churn_train, name="churn_train"),
]
