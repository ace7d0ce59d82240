#!/usr/bin/env bash
# Install mtaharden into ./.venv on Debian 12. With --test, also install what the test suite runs
# for real, as tests/packages/ lists it (common.txt, then each target's <target>.txt, .debconf and
# .unpack; nothing about a target is written here), the Python test tools, and the stock-host lab's
# roots, built once into /var/cache/mtaharden/lab so no test pays for it.
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=no
[ "${1:-}" = "--test" ] && with_tests=yes

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

# The package names of tests/packages/ files of one kind (comments and blank lines dropped).
listed() {
  local file
  for file in "$@"; do
    [ -f "$file" ] && sed -e 's/#.*//' "$file"
  done | tr -s ' \t' '\n' | sed '/^$/d'
}

packages=(python3 python3-venv python3-pip)
if [ "$with_tests" = yes ]; then
  mapfile -t -O ${#packages[@]} packages < <(listed tests/packages/*.txt)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  for preseed in tests/packages/*.debconf; do
    [ "$with_tests" = yes ] && [ -f "$preseed" ] && "${sudo_cmd[@]}" debconf-set-selections < "$preseed"
  done
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# An MTA that conflicts with the installed one runs from an unpacked tree (dpkg -x), e.g. Sendmail.
for unpack in tests/packages/*.unpack; do
  if [ "$with_tests" != yes ] || [ ! -f "$unpack" ]; then continue; fi
  target=$(basename "$unpack" .unpack)
  variable="MTAHARDEN_${target^^}_ROOT"
  root=${!variable:-/var/cache/mtaharden/$target-root}
  [ -f "$root/.mtaharden-unpacked" ] && continue
  debs=$(mktemp -d)
  mapfile -t wanted < <(listed "$unpack")
  (cd "$debs" && apt-get download -q "${wanted[@]}" 2>/dev/null)
  "${sudo_cmd[@]}" mkdir -p "$root"
  for deb in "$debs"/*.deb; do "${sudo_cmd[@]}" dpkg -x "$deb" "$root"; done
  "${sudo_cmd[@]}" touch "$root/.mtaharden-unpacked"
  rm -rf "$debs"
done

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "$with_tests" = yes ]; then
  .venv/bin/python -m pip install -q -e '.[test]'
else
  .venv/bin/python -m pip install -q -e .
fi

# The stock-host lab's Debian roots (cached, keyed by their content; a rerun costs nothing).
if [ "$with_tests" = yes ]; then
  if [ "$(id -u)" -eq 0 ]; then
    .venv/bin/python -m tests.lab.roots --build || { [ -z "${CI:-}" ] || exit 1; echo "lab roots not built; tests/lab will skip" >&2; }
  else
    echo "not root: lab roots not built (tests/lab needs root and skips without it)" >&2
  fi
fi
