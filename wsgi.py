"""WSGI entry point: `flask --app wsgi …`, `gunicorn wsgi:app`."""

from webapp import create_app

app = create_app()
