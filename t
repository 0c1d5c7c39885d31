#!/bin/bash
CI=true TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/hsync_test \
TEST_REDIS_URL=redis://127.0.0.1:6379/8 exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
