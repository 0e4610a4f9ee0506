from django.apps import AppConfig


class AuditsConfig(AppConfig):
    name = "audits"
    verbose_name = "Internal audits, nonconformities and corrective actions"
    default_auto_field = "django.db.models.BigAutoField"
