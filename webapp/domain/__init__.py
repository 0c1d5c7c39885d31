"""Domain rules as plain functions: no Flask imports here.

Messages are gettext msgids marked with `N_` so Babel extracts them; the web and API
layers translate them for the user (see webapp/views/errors.py).
"""
