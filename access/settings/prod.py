"""Production: every secret from the environment with no default, HTTPS hardening behind env flags.

Expects a TLS-terminating proxy in front that sets X-Forwarded-Proto. See deploy/env.example.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False
# No defaults: a missing value stops the start instead of running with a guessable or throwaway one.
SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
# Web and worker run in separate containers: a key generated per container would not decrypt the other's data.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEY")
for _name, _value in [("SECRET_KEY", SECRET_KEY), ("FIELD_ENCRYPTION_KEY", FIELD_ENCRYPTION_KEYS)]:
    if not _value:  # set but empty, as a copied env.example leaves it
        raise ImproperlyConfigured(f"Set the {_name} environment variable to a non-empty value")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Load balancers and the container healthcheck probe over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^api/health/$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# Start HSTS short; raise SECURE_HSTS_SECONDS (e.g. to 31536000) once HTTPS is known to work everywhere.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
