"""WSGI entry point: `pollux serve --wsgi mysite.wsgi --pythonpath examples/wsgi/django_project`
(the callable is `application`)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')

application = get_wsgi_application()
