#!/usr/bin/env bash
# Installs Debian's Chromium for the HTML report test (tests/report.rs opens
# the report headless), idempotently: nothing happens when it is already
# there. Needs root (CI runs as root with no stdin); otherwise it says what
# to run and exits 0, so the rest of set-up goes on and the test reports
# the missing browser itself.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    echo "setup: chromium already installed ($(command -v chromium))"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "setup: chromium is missing and this is not root: run 'sudo apt-get install chromium' for the HTML report test" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: chromium is missing and apt-get is not available: install Chromium for the HTML report test" >&2
    exit 0
fi
echo "setup: installing chromium (Debian package)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "setup: chromium installed ($(chromium --version 2>/dev/null || echo 'version unknown'))"
