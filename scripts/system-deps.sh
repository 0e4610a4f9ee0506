#!/usr/bin/env bash
# Install the Debian packages the project needs, only those missing, only where apt-get can run.
#   chromium       real-browser tests (Playwright drives it through executable_path)
#   poppler-utils  pdftotext, to read rendered PDFs back in tests
#   libpango*      WeasyPrint's text layout
#   fonts-dejavu-core  a font for PDFs
#   syslog-ng-core loggen, the syslog load generator of the benchmarks
#   util-linux (logger) and bsdextrautils are part of every Debian base system.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
ldconfig -p 2>/dev/null | grep -q 'libpango-1.0.so' || need+=(libpango-1.0-0)
ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so' || need+=(libpangoft2-1.0-0)
fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
command -v loggen >/dev/null 2>&1 || [ -x /usr/bin/loggen ] || need+=(syslog-ng-core)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing missing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || { echo "apt-get could not install: ${need[*]}" >&2; exit 1; }
else
  echo "Missing Debian packages (tests that need them will be skipped): ${need[*]}" >&2
  echo "  install with: sudo apt-get install ${need[*]}" >&2
fi
