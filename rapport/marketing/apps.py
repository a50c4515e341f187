from django.apps import AppConfig


class MarketingConfig(AppConfig):
    name = "rapport.marketing"
    label = "marketing"
    verbose_name = "Marketing"

    def ready(self) -> None:
        from rapport.marketing import ecrm

        ecrm.register()
