#!/usr/bin/env bash
# Install mtaharden into ./.venv on Debian 12. With --test, also install what the test suite runs
# for real: Postfix (preseeded "No configuration", so no system instance starts), Cyrus SASL tools,
# rbldnsd, dig, ucspi-tcp, nmap, the Python test tools, and the stock-host lab (tests/lab): mmdebstrap
# and dnsmasq, then every lab root built once into /var/cache/mtaharden/lab so no test pays for it.
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=no
[ "${1:-}" = "--test" ] && with_tests=yes

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

packages=(python3 python3-venv python3-pip)
if [ "$with_tests" = yes ]; then
  packages+=(postfix postfix-pcre sasl2-bin libsasl2-modules rbldnsd dnsutils iproute2 openssl
             ucspi-tcp nmap swaks m4 bsdutils shellcheck ca-certificates
             mmdebstrap debian-archive-keyring dnsmasq-base util-linux   # the stock-host lab
             libwrap0 libldap-2.5-0 libsasl2-2 libdb5.3)   # what the unpacked Sendmail links against
fi

missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "postfix postfix/main_mailer_type select No configuration" | "${sudo_cmd[@]}" debconf-set-selections
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian's Sendmail conflicts with Postfix, so the tests run it from an unpacked tree (dpkg -x).
sendmail_root=${MTAHARDEN_SENDMAIL_ROOT:-/var/cache/mtaharden/sendmail-root}
if [ "$with_tests" = yes ] && [ ! -x "$sendmail_root/usr/libexec/sendmail/sendmail" ]; then
  debs=$(mktemp -d)
  (cd "$debs" && apt-get download -q sendmail-bin sendmail-cf sendmail-base 2>/dev/null)
  "${sudo_cmd[@]}" mkdir -p "$sendmail_root"
  for deb in "$debs"/*.deb; do "${sudo_cmd[@]}" dpkg -x "$deb" "$sendmail_root"; done
  rm -rf "$debs"
fi

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
