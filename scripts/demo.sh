#!/usr/bin/env bash
# Run the demo: install, create and seed the database, start the feeder, serve on :8050.
source "$(dirname "$0")/_env.sh" test
exec python app.py "$@"
