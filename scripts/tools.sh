# Sourced by scripts/test.sh: installs the test tools that are missing. Debian's chromium and
# chromium-driver come from apt, selenium, schemathesis and standardwebhooks from PyPI; fonts-noto-core gives the
# screenshots Vietnamese glyphs.

ensure_browser() {
    if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! fc-list 2>/dev/null | grep -qi "Noto Sans"; then
        echo "installing chromium, chromium-driver and fonts (apt)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-noto-core >/dev/null
    fi
    if ! python3 -c "import selenium" 2>/dev/null; then
        echo "installing selenium (pip)"
        python3 -m pip install -q selenium
    fi
}

ensure_schemathesis() {
    if ! command -v schemathesis >/dev/null; then
        echo "installing schemathesis (pip)"
        python3 -m pip install -q schemathesis
    fi
}

ensure_standardwebhooks() {
    if ! python3 -c "import standardwebhooks" 2>/dev/null; then
        echo "installing standardwebhooks (pip)"
        python3 -m pip install -q standardwebhooks
    fi
}
