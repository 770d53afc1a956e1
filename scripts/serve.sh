#!/bin/sh
# Serve the web app and the task worker together; Ctrl-C stops both.
set -eu
PYTHON=${PYTHON:-.venv/bin/python}
# Queues the worker's repeating IMAP poll when OMBUD_MAIL_INTAKE=imap (else nothing).
"$PYTHON" manage.py mail_poll --schedule
# Queues the worker's hourly housekeeping run, unless one is waiting.
"$PYTHON" manage.py housekeeping --schedule
"$PYTHON" manage.py db_worker --no-reload &
pids=$!
if [ "${OMBUD_MAIL_INTAKE:-}" = smtp ]; then
    "$PYTHON" manage.py smtpd &
    pids="$pids $!"
fi
trap 'kill $pids 2>/dev/null || true; wait $pids 2>/dev/null || true' EXIT INT TERM
echo "Ombud is running at http://localhost:8000/ (Ctrl-C stops the web server and the worker)"
case "${EMAIL_BACKEND:-console}" in
    *console*)
        echo "Development (DEBUG=1): emails are printed here, not sent, one-time links included."
        echo "Production refuses this: set EMAIL_BACKEND and EMAIL_HOST (README, Configuration)." ;;
esac
"$PYTHON" manage.py runserver 127.0.0.1:8000
