#!/usr/bin/env bash
# Installs the Debian 12 packages prela needs, if any is missing. Needs root (or sudo).
set -euo pipefail

packages=(g++ cmake make libboost1.81-all-dev nlohmann-json3-dev libbenchmark-dev zlib1g-dev libssl-dev
          libspdlog-dev protobuf-compiler openssl)
if [[ "${PRELA_WITH_FUZZING:-0}" == 1 ]]; then
  packages+=(clang libclang-rt-14-dev)
fi
if [[ "${PRELA_WITH_FORMAT:-0}" == 1 ]]; then  # scripts/format.sh
  packages+=(clang-format-16)
fi
if [[ "${PRELA_WITH_CHROMIUM:-0}" == 1 ]]; then  # the demo's page test in .ci/run
  packages+=(chromium)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "prela: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "prela: run as root, or install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
