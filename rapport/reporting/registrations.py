"""What reporting adds to the shell: the report sources of the apps below it, its event
types, its navigation entry and the dashboards' demo reports."""

from __future__ import annotations

from rapport.core import registry


def register() -> None:
    from rapport.reporting import demo, events, sources  # noqa: F401  (events registers types)

    sources.register()
    registry.add_nav(
        registry.NavItem(
            key="reporting", label="Reports", url_name="reporting:home", icon="bar-chart", order=60
        )
    )
    registry.add_demo_loader(registry.DemoLoader(key="reporting", load=demo.load, order=90))
