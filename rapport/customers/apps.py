from typing import Any

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
            gdpr,
            imports,
            search,
            selectors,
            tasks,
        )

        gdpr.register()
        imports.register()
        selectors.register_segment_fields()
        registry.add_tasks(
            "customers",
            tasks.export_personal_data,
            tasks.bulk_apply,
            tasks.purge_erased_search_terms,
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
                key="customers",
                label="Customers",
                search=search.search_provider,
                results=selectors.search_results,
                order=10,
            )
        )
        registry.add_demo_loader(registry.DemoLoader(key="customers", load=demo.load, order=10))
        _register_merge_rules(registry)


def _register_merge_rules(registry: Any) -> None:
    """What a merge does with each of this app's links to the customer merged away."""
    from rapport.customers.normalize import address_key, email_key, phone_key

    rule, move = registry.MergeRule, registry.MergeStrategy
    not_primary = (("is_primary", False),)
    for r in [
        rule("customers.Interaction", "customer", move.MOVE_ALL, label="Timeline entries"),
        rule("customers.ConsentRecord", "customer", move.MOVE_ALL, label="Consent records"),
        rule(
            "customers.EmailAddress",
            "customer",
            move.MOVE_ROWS,
            ("email",),
            not_primary,
            same_as=email_key,
            label="E-mail addresses",
        ),
        rule(
            "customers.PhoneNumber",
            "customer",
            move.MOVE_ROWS,
            ("e164",),
            not_primary,
            same_as=phone_key,
            label="Phone numbers",
        ),
        # Addresses have no unique constraint; the same place typed twice is one address.
        rule(
            "customers.Address",
            "customer",
            move.MOVE_ROWS,
            (),
            not_primary,
            same_as=address_key,
            label="Addresses",
        ),
        rule("customers.CustomerTag", "customer", move.MOVE_ROWS, ("tag",), label="Tags"),
        rule(
            "customers.Affiliation",
            "person",
            move.MOVE_ROWS,
            ("organization",),
            label="Organizations",
        ),
        rule("customers.Affiliation", "organization", move.MOVE_ROWS, ("person",), label="People"),
        rule(
            "customers.Relationship",
            "from_customer",
            move.MOVE_ROWS,
            ("to_customer", "kind"),
            label="Relationships",
        ),
        rule(
            "customers.Relationship",
            "to_customer",
            move.MOVE_ROWS,
            ("from_customer", "kind"),
            label="Relationships",
        ),
        rule(
            "customers.Customer",
            "merged_into",
            move.KEEP,
            why="the merge chain: records merged into the merged-away one stay pointed at it "
            "and resolve through it",
        ),
    ]:
        registry.add_merge_rule(r)
