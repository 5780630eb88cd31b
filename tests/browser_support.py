"""What the browser tests share: Debian's chromium and chromedriver, and when to skip.

The tests (test_browser, test_report, test_site) mark themselves with :data:`needs_browser` and
take the ``browser`` fixture of tests/conftest.py, a headless chromium driven by Selenium at
/usr/bin/chromium and /usr/bin/chromedriver, so Selenium never downloads a browser or a driver.
Install them with ``apt-get install -y chromium chromium-driver``.
"""

from __future__ import annotations

import os
import shutil

import pytest


def installed(name: str) -> str | None:
    """/usr/bin/NAME (Debian's package), else NAME on the PATH, else None."""
    for path in (f"/usr/bin/{name}", shutil.which(name)):
        if path and os.path.exists(path):
            return path
    return None


CHROMIUM, CHROMEDRIVER = installed("chromium"), installed("chromedriver")
#: .ci/run sets this once it has installed chromium: there, a missing browser fails the test
#: instead of skipping it, so CI cannot pass without having driven a real browser.
REQUIRED = os.environ.get("FMNIST_REQUIRE_BROWSER") == "1"

needs_browser = pytest.mark.skipif(
    (CHROMIUM is None or CHROMEDRIVER is None) and not REQUIRED,
    reason="the browser test needs Debian's chromium and chromium-driver "
    "(apt-get install -y chromium chromium-driver); not installed here",
)
