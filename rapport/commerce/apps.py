from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "rapport.commerce"
    label = "commerce"
    verbose_name = "Commerce"

    def ready(self) -> None:
        from rapport.commerce import (
            demo,
            events,  # noqa: F401  (registers the event types)
            gdpr,
            imports,
            panels,
            search,
            services,
        )
        from rapport.core import registry

        gdpr.register()
        imports.register()

        for name, label, plural, customer_field in [
            ("commerce.order", "Order", "Orders", "customer"),
            ("commerce.shipment", "Shipment", "Shipments", "customer"),
            ("commerce.product", "Product", "Products", ""),
        ]:
            registry.add_object_type(
                registry.ObjectType(
                    name=name, label=label, label_plural=plural, customer_field=customer_field
                )
            )
        registry.add_nav(
            registry.NavItem(
                key="commerce",
                label="Orders",
                url_name="commerce:order_list",
                icon="shopping-bag",
                order=20,
                object_type="commerce.order",
            )
        )
        registry.add_panel(
            registry.Panel(
                key="orders",
                title="Orders & shipments",
                template="commerce/_customer_panel.html",
                context=panels.customer_panel_context,
                order=30,
                column="main",
            )
        )
        for kind, anchor in (("order", True), ("shipment", False)):
            registry.add_timeline_kind(
                registry.TimelineKind(
                    kind=kind,
                    group_key=panels.order_group_key,
                    anchor=anchor,
                    label=panels.order_updates_label,
                )
            )
        registry.add_search_provider(
            registry.SearchProvider(key="commerce", label="Orders", search=search.search, order=50)
        )
        registry.add_demo_loader(registry.DemoLoader(key="commerce", load=demo.load, order=20))
        registry.add_merge_rule(
            registry.MergeRule(
                "commerce.Order",
                "customer",
                registry.MergeStrategy.CUSTOM,
                mover=services.merge_mover,
                label="Orders",
            )
        )
        registry.add_merge_rule(
            registry.MergeRule(
                "commerce.Shipment",
                "customer",
                registry.MergeStrategy.KEEP,
                why="a shipment moves with its order (commerce.Order's rule)",
            )
        )
