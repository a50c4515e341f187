from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "rapport.identity"
    label = "identity"
    verbose_name = "Identity and access"

    def ready(self) -> None:
        from rapport.core import registry
        from rapport.identity import demo
        from rapport.identity.auth import connect_signals

        connect_signals()

        registry.add_demo_loader(registry.DemoLoader(key="identity", load=demo.load, order=0))
