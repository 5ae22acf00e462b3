#!/usr/bin/env bash
# Loads an HTML file in headless Chromium, takes a screenshot and fails on console errors.
#
#   tools/report/check_html.sh REPORT.html SCREENSHOT.png [WIDTHxHEIGHT]
#
# Exit status: 0 = loaded without console messages at error level and the screenshot was written;
# 1 = console errors (printed); 2 = usage or Chromium problem. Chromium's stderr is kept in
# SCREENSHOT.png.log. Console messages show up there as lines containing ":CONSOLE" (with
# --enable-logging=stderr --v=0 --log-level=0), e.g.
#   [..:INFO:CONSOLE:1] "Uncaught ReferenceError: f is not defined", source: file:///x.html (1)
# (older builds write "CONSOLE(1)"). Chromium logs every console message at INFO level whatever
# its level, so any console message fails the check: the report has no script and must be silent.
set -euo pipefail
if [[ $# -lt 2 ]]; then
    echo "usage: $0 REPORT.html SCREENSHOT.png [WIDTHxHEIGHT]" >&2
    exit 2
fi
html=$(realpath "$1")
shot=$(realpath -m "$2")
size=${3:-1280x4000}
chromium=${CHROMIUM:-/usr/bin/chromium}
if [[ ! -x "$chromium" ]]; then
    echo "chromium not found at $chromium (apt-get install -y chromium, or set CHROMIUM)" >&2
    exit 2
fi
if [[ ! -f "$html" ]]; then
    echo "no such file: $html" >&2
    exit 2
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
log="$shot.log"
rm -f "$shot"
set +e
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --enable-logging=stderr --v=0 --log-level=0 \
    --screenshot="$shot" --window-size="${size/x/,}" "file://$html" >"$log" 2>&1
status=$?
set -e
if [[ $status -ne 0 ]]; then
    echo "chromium exited with status $status; its output:" >&2
    cat "$log" >&2
    exit 2
fi
if [[ ! -s "$shot" ]]; then
    echo "chromium wrote no screenshot ($shot); its output:" >&2
    cat "$log" >&2
    exit 2
fi
if grep -qE ':CONSOLE[(:]' "$log"; then
    echo "console messages while loading $html:" >&2
    grep -E ':CONSOLE[(:]' "$log" >&2
    exit 1
fi
echo "ok: $html loaded without console errors; screenshot $shot"
