#!/usr/bin/env bash
# Runs docs/deploy.md end to end on one machine, on loopback: every ```bash block of the page in
# order, in one bash (set -e), from the repository root with .venv active (as root on Debian 12 with
# PostgreSQL 15 and Redis on 127.0.0.1). The last block is the clean-up; it also runs when an
# earlier block fails, so nothing the page starts is left running.
#
#   bash scripts/deploy_loopback.sh 2>&1 | tee /tmp/deploy_loopback.log
#
# Also checks that the nginx configuration shown in the page is scripts/nginx-citywall.conf.
set -uo pipefail   # (the page's blocks themselves run under set -e, without pipefail)
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck disable=SC1091
source .venv/bin/activate

doc=docs/deploy.md
if ! diff <(awk '/^```nginx$/{on=1; next} /^```$/{on=0} on' "$doc") scripts/nginx-citywall.conf; then
    echo "deploy_loopback: the nginx block in $doc differs from scripts/nginx-citywall.conf" >&2
    exit 2
fi

work=$(mktemp -d)
awk -v dir="$work" '/^```bash$/{n++; on=1; next} /^```$/{on=0} on{print > (dir "/block-" n ".sh")}' "$doc"
last=$(find "$work" -name 'block-*.sh' | wc -l)
{ echo 'set -ev'; for ((i = 1; i < last; i++)); do echo "# ===== block $i/$last"; cat "$work/block-$i.sh"; done; } > "$work/main.sh"
bash "$work/main.sh"
status=$?
[ "$status" -eq 0 ] || echo "deploy_loopback: a block failed ($status); running the clean-up" >&2
echo "# ===== block $last/$last: clean-up"
bash -v "$work/block-$last.sh"
rm -rf "$work"
exit "$status"
