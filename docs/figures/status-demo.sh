#!/usr/bin/env bash
# Renders docs/figures/status-demo.png: `rollout status --format mermaid` after
# `rollout demo` (waves 1-4 passed, wave 5 reverted), drawn by the mermaid npm package
# in headless Chromium (Debian's `chromium`; .ci/run installs mermaid under
# ~/.cache/rollout-ci/node).   Usage: bash docs/figures/status-demo.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
mermaid_dir="${ROLLOUT_MERMAID_DIR:-$HOME/.cache/rollout-ci/node}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
.venv/bin/rollout demo --dir "$work" > "$work/demo.log"
repo="$(sed -n 's/.*The demo repo is kept at \([^ ]*\) .*/\1/p' "$work/demo.log")"
(cd "$repo" && "$OLDPWD/.venv/bin/rollout" status security-patch --format mermaid) > "$work/status.mmd"
cp "$mermaid_dir/node_modules/mermaid/dist/mermaid.min.js" "$work/"
{
  echo '<!doctype html><html><body style="margin:0;background:#fff">'
  echo '<pre class="mermaid">'; sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g' "$work/status.mmd"; echo '</pre>'
  echo '<script src="mermaid.min.js"></script>'
  echo '<script>mermaid.initialize({startOnLoad: true, theme: "default"});</script>'
  echo '</body></html>'
} > "$work/page.html"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1030,240 \
  --virtual-time-budget=10000 --screenshot="$PWD/docs/figures/status-demo.png" "file://$work/page.html" 2>/dev/null
cp "$work/status.mmd" docs/figures/status-demo.mmd
echo "wrote docs/figures/status-demo.png and docs/figures/status-demo.mmd"
