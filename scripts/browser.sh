# Sourced by scripts/test: Debian's chromium for the browser tests (Playwright drives it with
# executable_path=/usr/bin/chromium; Playwright's own browser download is not used).
# Installs it only as root and only when it is missing; otherwise the browser tests skip
# with the reason.
ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then
    return 0
  fi
  if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium is missing and cannot be installed here (not root or no apt-get); browser tests will skip" >&2
    return 0
  fi
  echo "Installing chromium (Debian package) for the browser tests ..."
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1; then
    echo "could not install chromium; browser tests will skip" >&2
  fi
  return 0
}
