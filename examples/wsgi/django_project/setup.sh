#!/bin/bash
# Prepares the example Django project: creates/updates the sqlite database (migrate), fills
# STATIC_ROOT (collectstatic) and creates the admin superuser if it does not exist yet.
# Idempotent: run it again at any time.
#
# Usage: examples/wsgi/django_project/setup.sh     (with Django importable by python3, e.g. in
#        the virtualenv that scripts/python-env.sh makes, activated; or PYTHON=/path/to/python)
# Environment: POLLUX_DJANGO_DB, POLLUX_DJANGO_STATIC (see mysite/settings.py), and
#   DJANGO_SUPERUSER_USERNAME (admin), DJANGO_SUPERUSER_PASSWORD (pollux-admin),
#   DJANGO_SUPERUSER_EMAIL (admin@example.com).
set -euo pipefail
cd "$(dirname "$0")"
py=${PYTHON:-python3}
export DJANGO_SUPERUSER_USERNAME=${DJANGO_SUPERUSER_USERNAME:-admin}
export DJANGO_SUPERUSER_PASSWORD=${DJANGO_SUPERUSER_PASSWORD:-pollux-admin}
export DJANGO_SUPERUSER_EMAIL=${DJANGO_SUPERUSER_EMAIL:-admin@example.com}
"$py" manage.py migrate --noinput
"$py" manage.py collectstatic --noinput
if "$py" manage.py shell --verbosity 0 -c '
import os, sys
from django.contrib.auth import get_user_model
sys.exit(0 if get_user_model().objects.filter(username=os.environ["DJANGO_SUPERUSER_USERNAME"]).exists() else 1)
'; then
  echo "superuser '$DJANGO_SUPERUSER_USERNAME' already exists"
else
  "$py" manage.py createsuperuser --noinput
  echo "superuser '$DJANGO_SUPERUSER_USERNAME' created"
fi
