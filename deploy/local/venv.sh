#!/usr/bin/env bash
# Make .venv with Python 3.11+ when it is missing, then install a requirements file into it.
# Usage: deploy/local/venv.sh requirements.txt
set -euo pipefail
cd "$(dirname "$0")/../.."
requirements=$1

if [ ! -x .venv/bin/python ]; then
    python=$(command -v python3.11 || command -v python3 || true)
    if [ -z "$python" ] || ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "FaceGate needs Python 3.11 or newer (apt-get install -y python3)" >&2
        exit 1
    fi
    if ! "$python" -c 'import ensurepip' 2>/dev/null; then
        # Debian ships venv's pip bootstrap in a package of its own.
        if [ "$(id -u)" -eq 0 ]; then sudo_=(); else sudo_=(sudo); fi
        "${sudo_[@]}" apt-get update -qq
        "${sudo_[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    fi
    "$python" -m venv .venv
    echo "created .venv; installing $requirements (the first time takes a few minutes)"
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
