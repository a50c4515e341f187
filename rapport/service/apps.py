from django.apps import AppConfig


class ServiceConfig(AppConfig):
    name = "rapport.service"
    label = "service"
    verbose_name = "Service"

    def ready(self) -> None:
        from rapport.service.registration import register

        register()
