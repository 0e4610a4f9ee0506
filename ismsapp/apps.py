from django.apps import AppConfig


class IsmsAppConfig(AppConfig):
    name = "ismsapp"
    verbose_name = "ISMS platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ismsapp import cleaning

        cleaning.install()  # first: form classes defined later get the field validators

        from ismsapp import receivers

        receivers.connect()

        from ismsapp.panels import register_panels

        register_panels()
