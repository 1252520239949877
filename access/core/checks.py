from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security)
def check_field_encryption_keys(app_configs, **kwargs) -> list[checks.CheckMessage]:
    from cryptography.fernet import Fernet

    keys = settings.FIELD_ENCRYPTION_KEYS
    if not keys:
        return [checks.Error("FIELD_ENCRYPTION_KEYS is empty.", id="core.E001")]
    errors = []
    for position, key in enumerate(keys):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            errors.append(
                checks.Error(
                    f"FIELD_ENCRYPTION_KEY number {position + 1} is not a Fernet key.",
                    hint="Make one with: python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'",
                    id="core.E002",
                )
            )
    return errors
