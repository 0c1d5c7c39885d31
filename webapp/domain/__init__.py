"""Domain rules as plain functions: no Flask imports here.

Messages are gettext msgids marked with `N_` so Babel extracts them; the screens, APIs and
the command line translate them for the user (webapp/messages.py).
"""
