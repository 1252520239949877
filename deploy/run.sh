#!/usr/bin/env bash
# The run command: FaceGate on this machine with no servers to install. SQLite, a file-system Celery broker,
# media and the secret key live under ./data (FACEGATE_DATA_DIR). Web and worker run under honcho
# (deploy/Procfile) until Ctrl-C. PORT picks the web port (default 8000).
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/local/venv.sh requirements.txt
export PATH="$PWD/.venv/bin:$PATH"

python manage.py migrate --noinput
python manage.py collectstatic --noinput --verbosity 0
python manage.py create_admin
# The demo, on unless FACEGATE_DEMO=0: a door camera plays a clip of an enrolled face (granted) and a stranger
# (denied). Seeding is idempotent; FaceGate still starts if it fails.
if [ "${FACEGATE_DEMO:-1}" = "0" ]; then
    python manage.py seed_demo --disable
else
    python manage.py seed_demo || echo "The demo could not be seeded (see above); starting without it." >&2
fi

port=${PORT:-8000}
echo "FaceGate on http://127.0.0.1:$port/ : admin /admin/, API docs /api/docs/, health /api/health/"
if [ "${FACEGATE_DEMO:-1}" != "0" ]; then
    echo "Demo: grants and denials at the demo door appear at /admin/events/event/ and /api/events/ within a minute"
fi
exec honcho -f deploy/Procfile -d . start -p "$port"
