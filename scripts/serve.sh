#!/bin/sh
# Serve the web app and the task worker together; Ctrl-C stops both.
set -eu
PYTHON=${PYTHON:-.venv/bin/python}
"$PYTHON" manage.py db_worker --no-reload &
worker=$!
trap 'kill "$worker" 2>/dev/null || true; wait "$worker" 2>/dev/null || true' EXIT INT TERM
echo "Ombud is running at http://127.0.0.1:8000/ (Ctrl-C stops the web server and the worker)"
"$PYTHON" manage.py runserver 127.0.0.1:8000
