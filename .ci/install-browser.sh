#!/usr/bin/env bash
# Installs the headless browser the console and demo tests drive
# (go test ./console/ ./internal/cli/ through chromedp): Debian's chromium,
# and a font so that screenshots have readable text. Run as root (or with
# sudo). Idempotent.
set -euo pipefail

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi

retry() {
	local i
	for i in 1 2 3; do
		"$@" && return 0
		echo "install-browser: '$*' failed (try $i of 3)" >&2
		sleep $((i * 5))
	done
	return 1
}

export DEBIAN_FRONTEND=noninteractive
if ! command -v chromium >/dev/null 2>&1; then
	retry $SUDO apt-get update
	retry $SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core
fi
chromium --version
