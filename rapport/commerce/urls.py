from django.urls import path

from rapport.commerce import views

app_name = "commerce"

urlpatterns = [
    path("orders/", views.order_list, name="order_list"),
    path("orders/<int:pk>/", views.order_detail, name="order_detail"),
    path("orders/<int:pk>/status/", views.order_status, name="order_status"),
    path("orders/<int:pk>/shipments/", views.shipment_add, name="shipment_add"),
    path("shipments/<int:pk>/status/", views.shipment_status, name="shipment_status"),
    path("in-transit/", views.in_transit, name="in_transit"),
    path("products/", views.product_list, name="product_list"),
    path("products/new/", views.product_create, name="product_create"),
    path("products/<int:pk>/", views.product_detail, name="product_detail"),
    path("products/<int:pk>/edit/", views.product_edit, name="product_edit"),
]
