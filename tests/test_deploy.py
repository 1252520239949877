"""The production shape in deploy/: compose file, documented configuration, production settings."""

import re
import subprocess
import sys

import yaml
from cryptography.fernet import Fernet

from recognition.config import EngineConfig
from tests.conftest import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"


def _variables_read_by_the_code() -> set[str]:
    """What the Django settings read through django-environ, and the engine's own FACEGATE_* settings."""
    settings_code = "\n".join(path.read_text() for path in (REPO_ROOT / "access" / "settings").glob("*.py"))
    engine = {line.split("=", 1)[0] for line in EngineConfig.from_env().describe()}
    return set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', settings_code)) | engine


def test_env_example_documents_every_variable_the_settings_read():
    documented = set(re.findall(r"^#? ?([A-Z_]+)=", (DEPLOY / "env.example").read_text(), re.MULTILINE))

    assert _variables_read_by_the_code() - documented == set()


def test_readme_configuration_table_lists_every_variable():
    readme = (REPO_ROOT / "README.md").read_text()

    missing = {name for name in _variables_read_by_the_code() if f"`{name}`" not in readme}
    assert missing == set()


def test_compose_runs_every_service_with_a_healthcheck_or_an_exit():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]

    assert set(services) == {
        "postgres", "redis", "mosquitto", "migrate", "web", "worker", "beat", "cameras", "doors"
    }
    for name in ("postgres", "redis", "mosquitto", "web", "worker"):
        assert "healthcheck" in services[name], name
    for name in ("web", "worker", "beat", "migrate", "cameras", "doors"):
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert services[name]["environment"]["CELERY_BROKER_URL"].startswith("redis://redis:")
    assert (DEPLOY / "mosquitto" / "mosquitto.conf").read_text().count("allow_anonymous false") == 1


def _check_production_settings(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`manage.py check` under access.settings.prod with only the given variables set."""
    env = {"PATH": "/usr/bin:/bin", "FACEGATE_DATA_DIR": str(tmp_path), **env}
    env["DJANGO_SETTINGS_MODULE"] = "access.settings.prod"
    command = [sys.executable, "manage.py", "check", *args]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path):
    checked = _check_production_settings(tmp_path, ALLOWED_HOSTS="facegate.example.org")

    assert checked.returncode != 0
    assert "Set the SECRET_KEY environment variable" in checked.stderr


def test_production_settings_pass_the_deployment_checklist(tmp_path):
    # Django's security checklist only: a fresh site rightly warns that it has no impostor cohort yet.
    checked = _check_production_settings(
        tmp_path, "--deploy", "--tag", "security", "--fail-level", "WARNING",
        SECRET_KEY=Fernet.generate_key().decode() * 2, ALLOWED_HOSTS="facegate.example.org",
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(), SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_PRELOAD="true",
    )

    assert checked.returncode == 0, checked.stderr
