"""Fixtures shared by the service tests (test_serve, test_browser, test_load_serve) and the
browser tests (test_browser, test_report, test_site)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
from browser_support import CHROMEDRIVER, CHROMIUM


@pytest.fixture(scope="session")
def small_model_path(tmp_path_factory) -> Path:
    """A small fast_cnn trained for seconds on real data, once per test session: the "fast"
    recipe (no augmentation: the service's mechanics are under test, not the photos recipe),
    calibrated and given its "not a garment" detector by serve.train_model."""
    from fmnist_utils import serve

    path = tmp_path_factory.getbasetemp() / "serve-model" / "small.keras"
    if not path.is_file():
        serve.train_model(
            path, recipe="fast", epochs=2, per_class=400, filters=(16, 32, 64), batch_size=64,
            validation=1000, verbose=0,
        )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def browser(request):
    """Headless chromium driven by Selenium, one per test module; the window size is the
    module's ``BROWSER_WINDOW`` (``"width,height"``, default ``"1200,1200"``). Mark the tests
    with ``browser_support.needs_browser``."""
    if CHROMIUM is None or CHROMEDRIVER is None:  # only reached when FMNIST_REQUIRE_BROWSER=1
        pytest.fail(
            "FMNIST_REQUIRE_BROWSER=1 but chromium or chromedriver is missing: "
            "apt-get install -y chromium chromium-driver"
        )
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: never go online
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in containers and CI
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={getattr(request.module, 'BROWSER_WINDOW', '1200,1200')}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
