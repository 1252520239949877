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

port=${PORT:-8000}
echo "FaceGate on http://127.0.0.1:$port/ : admin /admin/, API docs /api/docs/, health /api/health/"
exec honcho -f deploy/Procfile -d . start -p "$port"
