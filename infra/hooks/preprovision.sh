#!/bin/sh
# azd preprovision hook: the two inputs azd can't guess.
#  - AZURE_PRIMARY_REGION: the region the orchestrator must survive (nothing is deployed there).
#  - FAILOVER_CONFIG_JSON: the hub-pair configuration, taken from failover.json (or the file
#    named by FAILOVER_CONFIG_FILE), validated with `python -m failover.domain.config --check`.
set -eu

if [ -z "${AZURE_PRIMARY_REGION:-}" ]; then
  echo "preprovision: set the primary region first: azd env set AZURE_PRIMARY_REGION <region>" >&2
  exit 1
fi

python=python3
[ -x .venv/bin/python ] && python=.venv/bin/python

if [ -z "${FAILOVER_CONFIG_JSON:-}" ]; then
  file="${FAILOVER_CONFIG_FILE:-failover.json}"
  if [ ! -f "$file" ]; then
    echo "preprovision: no $file: copy failover.sample.json to failover.json and edit it," >&2
    echo "  or azd env set FAILOVER_CONFIG_JSON '<the JSON>'" >&2
    exit 1
  fi
  "$python" -m failover.domain.config --check "$file"
  compact=$("$python" -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",", ":")))' "$file")
  azd env set FAILOVER_CONFIG_JSON "$compact"
  echo "preprovision: FAILOVER_CONFIG_JSON set from $file"
fi
