from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "rapport.customers"
    label = "customers"
    verbose_name = "Customers"

    def ready(self) -> None:
        from rapport.core import registry
        from rapport.customers import (
            demo,
            events,  # noqa: F401  (registers the event types)
            search,
        )

        registry.add_object_type(
            registry.ObjectType(
                name="customers.customer", label="Customer", label_plural="Customers"
            )
        )
        registry.add_nav(
            registry.NavItem(
                key="customers",
                label="Customers",
                url_name="customers:list",
                icon="users",
                order=10,
                object_type="customers.customer",
            )
        )
        registry.add_search_provider(
            registry.SearchProvider(
                key="customers", label="Customers", search=search.search_provider, order=10
            )
        )
        registry.add_demo_loader(registry.DemoLoader(key="customers", load=demo.load, order=10))
