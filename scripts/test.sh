#!/usr/bin/env bash
# Run CityWall's tests: installs the test dependencies and Debian's Chromium if missing.
# PostgreSQL tests run when CITYWALL_TEST_POSTGRES_URL is set (then a missing server fails).
source "$(dirname "$0")/_env.sh" test
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null
fi
ruff check .
set +e
python -m pytest --headless --durations=15 "$@"  # the slowest tests listed: the run must stay under 15 min
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure, not a pass" >&2
  exit 1
fi
exit "$status"
