#!/usr/bin/env bash
# The test command: start the servers the suite uses, lint, then run pytest against PostgreSQL, Redis and a
# real Celery worker. Extra arguments go to pytest (e.g. deploy/test.sh tests/access -x).
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/local/start-test-services.sh
bash deploy/local/venv.sh requirements-test.txt

.venv/bin/ruff check .

# access.settings.test points at the servers started above unless these say otherwise.
status=0
.venv/bin/python -m pytest --durations=15 "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
echo "test command finished in ${SECONDS}s (pytest exit $status)"
exit "$status"
