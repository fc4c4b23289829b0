#!/usr/bin/env bash
# Debian packages the platform and its tests use: pango (WeasyPrint), zbar (QR decoding in tests),
# poppler-utils (pdftotext/pdftoppm, to look at documents), chromium (the browser tests drive
# Debian's Chromium by its path, /usr/bin/chromium; nothing is downloaded by Playwright).
# Installed only when missing.
set -euo pipefail
missing=()
ldconfig -p | grep -q libpango-1.0 || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
ldconfig -p | grep -q libzbar.so || missing+=(libzbar0)
command -v pdftotext >/dev/null || missing+=(poppler-utils)
command -v curl >/dev/null || missing+=(curl)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
