#!/usr/bin/env bash
# Installs what the client interop tests (go test ./interop/) need on a
# fresh Debian machine. Run as root (or as a user with sudo). Idempotent.
#
#   kcat                     librdkafka's CLI (all five codecs built in)
#   python3-kafka            kafka-python, run by /usr/bin/python3
#   python3-snappy, python3-lz4, python3-zstandard
#                            kafka-python's snappy, lz4 and zstd codecs
#   python3-confluent-kafka  confluent-kafka (librdkafka)
#   nodejs, npm              only when missing: a node already installed
#                            (e.g. NodeSource's, which bundles npm) is kept
#   interop/js/node_modules  kafkajs and its pure-JS codecs, by npm ci
#                            from interop/js/package-lock.json
set -euo pipefail

cd "$(dirname "$0")/.."

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi

retry() {
	local i
	for i in 1 2 3; do
		"$@" && return 0
		echo "install-interop: '$*' failed (try $i of 3)" >&2
		sleep $((i * 5))
	done
	return 1
}

export DEBIAN_FRONTEND=noninteractive
pkgs=(kcat python3-kafka python3-snappy python3-lz4 python3-zstandard python3-confluent-kafka)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)

retry $SUDO apt-get update
retry $SUDO apt-get install -y --no-install-recommends "${pkgs[@]}"

(cd interop/js && retry npm ci --no-audit --no-fund)

# What the tests will use.
kcat -V | awk '/Version/'
/usr/bin/python3 -c 'import kafka, confluent_kafka; print("kafka-python", kafka.__version__, "/ confluent-kafka", confluent_kafka.version()[0], "on librdkafka", confluent_kafka.libversion()[0])'
echo "node $(node --version), kafkajs $(node -p 'require("./interop/js/node_modules/kafkajs/package.json").version')"
