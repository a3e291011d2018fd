#!/usr/bin/env bash
# make demo: start `sightline up`, run loadgen for about a minute, print a
# summary read back from ClickHouse, and stop everything it started. The
# Console is served at http://127.0.0.1:8088/ throughout; run from a
# terminal, the demo keeps it up at the end until Ctrl-C (DEMO_KEEP=0
# stops at once).
set -euo pipefail

BIN=${BIN:-./bin/sightline}
DATA=${DEMO_DATA_DIR:-./sightline-demo-data}
DURATION=${DEMO_DURATION:-60s}
RATE=${DEMO_RATE:-200}
HTTP=127.0.0.1:8088

rm -rf "$DATA"
mkdir -p "$DATA"
export SIGHTLINE_WEBHOOK_SECRET=${SIGHTLINE_WEBHOOK_SECRET:-demo-secret}
echo "== starting a local webhook and job receiver on 127.0.0.1:9099 (log in $DATA/receiver.log)"
"$BIN" webhook listen --addr 127.0.0.1:9099 >"$DATA/receiver.log" 2>"$DATA/receiver.err" &
RECV_PID=$!
echo "== starting sightline up (data in $DATA, log in $DATA/up.log)"
"$BIN" up --config deploy/demo/sightline.yaml --data-dir "$DATA" >"$DATA/up.log" 2>&1 &
UP_PID=$!
cleanup() {
  kill "$RECV_PID" 2>/dev/null || true
  if kill -0 "$UP_PID" 2>/dev/null; then
    kill -INT "$UP_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$UP_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$UP_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

for i in $(seq 1 300); do
  if curl -sf "http://$HTTP/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$UP_PID" 2>/dev/null; then
    echo "sightline up exited; its log:" >&2; cat "$DATA/up.log" >&2; exit 1
  fi
  sleep 0.2
done
curl -sf "http://$HTTP/readyz" >/dev/null || { echo "sightline up did not become ready; log:" >&2; cat "$DATA/up.log" >&2; exit 1; }
echo "== ready: http://$HTTP/metrics /healthz /readyz"
echo "== the Console: http://$HTTP/ (open it now: the alert fires during the incident, about 30 s in)"

echo "== loadgen for $DURATION at $RATE events/s (scenario toxicity-incident: support-bot turns toxic"
echo "   between 40% and 70% of the run), plus 5 malformed records for the dead-letter topic"
"$BIN" loadgen --duration "$DURATION" --rate "$RATE" --scenario toxicity-incident --invalid 5

# Wait until the last windows have closed (event-time lateness, then the
# idle close) and their signals are written.
for _ in $(seq 1 120); do
  open=$(curl -sf "http://$HTTP/metrics" | awk '/^sightline_aggregate_open_windows /{print $2}')
  if [ "${open:-1}" = "0" ]; then break; fi
  sleep 0.5
done
# Let the last notifications go out.
sleep 1
echo
"$BIN" summary
echo
echo "== alerts (llm_alerts) and what the receiver got"
"$BIN" alerts --config deploy/demo/sightline.yaml --data-dir "$DATA" || true
count_in_log() { grep -c "$1" "$DATA/receiver.log" 2>/dev/null || true; }
echo "receiver: $(count_in_log '"path":"/hooks/alerts"') webhook deliveries ($(count_in_log '"signature":"valid"') with a valid signature), $(count_in_log '"path":"/jobs/reeval"') job requests"
# One line per delivery: a webhook per incident state, listing its series;
# a job request per incident.
python3 - "$DATA/receiver.log" <<'PY' || true
import json, sys
for line in open(sys.argv[1]):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    b = d.get("body") or {}
    if d.get("path") == "/hooks/alerts":
        st = "repeat" if b.get("repeat") else b.get("state")
        print("  webhook %-8s %s incident %s: %s of %s series firing" % (st, b.get("rule"), str(b.get("alert_id"))[:8],
              b.get("members_firing"), b.get("members_total")))
        for m in b.get("members") or []:
            s, v = m["scope"], m.get("value")
            print("      %-8s %s/%s  %s  n %s" % (m["state"], s["model"], s["variant"],
                  "rate %.3f" % v if v is not None else "no data", m["n"]))
    elif d.get("path") == "/jobs/reeval":
        args = b.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [{}])[0].get("args", [])
        print("  job      %s key %s%s: %s" % (b.get("metadata", {}).get("name"), d.get("idempotency_key"),
              " (duplicate)" if d.get("duplicate") else "", " ".join(a or "''" for a in args[:13])))
PY
echo
echo "== the same over the read API: support-bot's toxicity rate per window"
echo "   curl 'http://$HTTP/v1/signals?app=support-bot&signal=toxicity&metric=rate&limit=50'"
curl -sf "http://$HTTP/v1/signals?app=support-bot&signal=toxicity&metric=rate&limit=50" |
  python3 -c 'import json,sys
for s in json.load(sys.stdin)["signals"]:
    print("  ", s["window_start"], s["model"] or "-", s["variant"] or "-", "rate %.3f" % s["value"], "n", s["n"],
          "[%.3f, %.3f]" % (s["lo"], s["hi"]) if s["lo"] is not None else "")' ||
  echo "   (read API unavailable)"
echo
if [ "${DEMO_KEEP:-1}" != "0" ] && [ -t 0 ]; then
  echo "== sightline keeps running so you can look around; press Ctrl-C to stop it"
  trap 'echo; echo "== stopping"; exit 0' INT
else
  echo "== stopping (run from a terminal, the demo keeps sightline up until Ctrl-C)"
fi
echo "== the Console: http://$HTTP/  (Overview: the alert and its window's calls; Signals: the toxicity rate"
echo "   against the alert threshold; Alerts: state changes, webhook and job attempts)"
if [ "${DEMO_KEEP:-1}" != "0" ] && [ -t 0 ]; then
  while kill -0 "$UP_PID" 2>/dev/null; do sleep 1; done
fi
