#!/usr/bin/env bash
# The test command: start the servers the suite uses, lint, then run pytest against PostgreSQL, Redis and a
# real Celery worker. Extra arguments go to pytest (e.g. ./deploy/test.sh tests/access -x).
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/local/start-test-services.sh
bash deploy/local/venv.sh requirements-test.txt

# Lint findings fail the run, but only after the tests have run too, so one run reports both.
lint=0
.venv/bin/ruff check . || lint=$?

# access.settings.test points at the servers started above unless DATABASE_URL and friends say otherwise.
tests=0
.venv/bin/python -m pytest --durations=15 "$@" || tests=$?

echo "test command finished in ${SECONDS}s: ruff exit $lint, pytest exit $tests"
if [ "$tests" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
[ "$lint" -eq 0 ] || exit "$lint"
exit "$tests"
