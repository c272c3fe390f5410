#!/usr/bin/env bash
# Formats the C++ sources with clang-format-16 and the repository's .clang-format
# (clang-format 14, Debian's default, mis-formats C++20 requires-clauses).
#   scripts/format.sh           rewrite every tracked .hpp/.cpp/.h file in place
#   scripts/format.sh --check   change nothing; list unformatted files and fail if any
set -euo pipefail
cd "$(dirname "$0")/.."
PRELA_WITH_FORMAT=1 scripts/install-deps.sh
mapfile -t files < <(git ls-files '*.hpp' '*.cpp' '*.h')
if [[ ${1:-} == --check ]]; then
  bad=()
  for f in "${files[@]}"; do
    clang-format-16 --style=file "$f" | cmp -s - "$f" || bad+=("$f")
  done
  if [[ ${#bad[@]} -gt 0 ]]; then
    printf 'prela: not formatted (run scripts/format.sh): %s\n' "${bad[@]}" >&2
    exit 1
  fi
  echo "prela: ${#files[@]} files formatted"
else
  clang-format-16 --style=file -i "${files[@]}"
fi
