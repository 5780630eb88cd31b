"""End to end in a real browser: Debian's headless chromium, driven by Selenium, uploads a real
Fashion-MNIST test image to the page of the running web service (uvicorn on a free loopback
port) and reads the prediction off the page.

Needs the Debian packages chromium and chromium-driver (``apt-get install -y chromium
chromium-driver``; .ci/run installs them when it runs as root). Selenium is pointed at
/usr/bin/chromium and /usr/bin/chromedriver, so it never tries to download a browser or a
driver. A screenshot of the page after the prediction is saved to reports/serve_page.png.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from browser_support import needs_browser
from PIL import Image

from fmnist_utils import data, serve

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "reports" / "serve_page.png"


BROWSER_WINDOW = "1100,1250"

pytestmark = [
    needs_browser,
    pytest.mark.filterwarnings(
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(small_model_path):
    """uvicorn serving the small model in a background thread, stopped after the module."""
    import uvicorn

    app = serve.create_app(small_model_path)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def _wait_for_state(driver, states: tuple[str, ...], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = driver.execute_script("return document.body.dataset.state")
        if state in states:
            return state
        time.sleep(0.1)
    raise AssertionError(f"the page stayed in state {state!r} for {timeout} s")


def _upload(driver, url: str, path: Path) -> str:
    from selenium.webdriver.common.by import By

    driver.get(url + "/")
    assert driver.title == "Fashion-MNIST classifier"
    driver.find_element(By.ID, "file").send_keys(str(path))
    return _wait_for_state(driver, ("done", "error"))


def test_page_shows_the_prediction_of_a_real_test_image(browser, server_url, tmp_path):
    from selenium.webdriver.common.by import By

    (_, _), (x_test, y_test) = data.load_fashion_mnist()
    # the first test image the model gets right (the API says which), saved as a PNG file
    for index in range(30):
        png = io.BytesIO()
        Image.fromarray(x_test[index]).save(png, "PNG")
        answer = httpx.post(
            server_url + "/predict", files={"file": ("item.png", png.getvalue())}, timeout=60
        ).json()
        if answer["predicted"]["index"] == y_test[index]:
            break
    else:
        pytest.fail("the model got none of the first 30 test images right")
    path = tmp_path / f"fashion_mnist_test_{index}.png"
    path.write_bytes(png.getvalue())
    true_class = data.CLASS_NAMES[y_test[index]]

    assert _upload(browser, server_url, path) == "done"
    shown = browser.find_element(By.ID, "predicted-class").text
    assert shown == answer["predicted"]["name"] == true_class
    # the garment verdict, as the API gave it
    verdict = browser.find_element(By.ID, "verdict")
    assert verdict.is_displayed()
    if answer["garment"]["garment"]:
        assert verdict.text == "Looks like a garment the model knows."
        assert browser.find_element(By.ID, "prediction-label").text == "Prediction"

    # the 28x28 model input, the Grad-CAM overlay and the photo itself are displayed
    sizes = browser.execute_script(
        "return ['original', 'model-input', 'gradcam'].map(id => {"
        "  const img = document.getElementById(id);"
        "  return [img.complete, img.naturalWidth, img.naturalHeight]; });"
    )
    assert sizes == [[True, 28, 28], [True, 28, 28], [True, serve.OVERLAY_SIZE, serve.OVERLAY_SIZE]]
    # ten bars; the highlighted one is the predicted class, its width its probability
    rows = browser.find_elements(By.CSS_SELECTOR, "#bars .bar-row")
    assert [row.get_attribute("data-cls") for row in rows] == list(data.CLASS_NAMES)
    best = browser.find_element(By.CSS_SELECTOR, "#bars .bar-row.best")
    assert best.get_attribute("data-cls") == true_class
    width = best.find_element(By.CSS_SELECTOR, ".bar > span").get_attribute("style")
    assert f"{100 * answer['predicted']['probability']:.1f}%" in width
    # offline: every resource the page loaded came from the server itself
    origins = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => new URL(e.name).origin);"
    )
    assert set(origins) <= {server_url}

    SCREENSHOT.parent.mkdir(exist_ok=True)
    time.sleep(0.4)  # let the bars' width transition finish before the screenshot
    assert browser.save_screenshot(str(SCREENSHOT))
    assert Image.open(SCREENSHOT).size[0] >= 1000


def test_page_says_plainly_when_an_upload_is_no_garment(browser, server_url, tmp_path):
    from selenium.webdriver.common.by import By

    from fmnist_utils import ood

    boards, _ = ood.no_garment_images(per_kind=10, seed=3, kinds=("checkerboard", "stripes"))
    for board in boards:  # the first one the API turns away
        png = io.BytesIO()
        Image.fromarray(board).save(png, "PNG")
        response = httpx.post(
            server_url + "/predict", files={"file": ("b.png", png.getvalue())}, timeout=60
        )
        if response.status_code == 200 and response.json()["garment"]["garment"] is False:
            break
    else:
        pytest.fail("the service called all 20 checkerboards and stripes garments")
    path = tmp_path / "board.png"
    path.write_bytes(png.getvalue())
    assert _upload(browser, server_url, path) == "done"
    verdict = browser.find_element(By.ID, "verdict")
    assert verdict.is_displayed() and verdict.text.startswith("Not a garment, or the model")
    assert browser.execute_script("return document.body.dataset.garment") == "false"
    assert browser.find_element(By.ID, "prediction-label").text == "Best guess"
    assert browser.find_element(By.ID, "predicted-class").text in data.CLASS_NAMES


def test_page_shows_a_clear_error_and_then_works_again(browser, server_url, tmp_path):
    from selenium.webdriver.common.by import By

    bad = tmp_path / "notes.png"
    bad.write_text("these are notes, not a picture")
    assert _upload(browser, server_url, bad) == "error"
    error = browser.find_element(By.ID, "error")
    assert error.is_displayed() and "not an image Pillow can read" in error.text

    (_, _), (x_test, _) = data.load_fashion_mnist()
    good = tmp_path / "good.png"
    Image.fromarray(255 - np.asarray(x_test[7])).save(good)  # dark item on white, like a photo
    browser.execute_script("document.body.dataset.state = 'idle'")
    browser.find_element(By.ID, "file").send_keys(str(good))
    assert _wait_for_state(browser, ("done", "error")) == "done"
    assert not browser.find_element(By.ID, "error").is_displayed()
    assert browser.find_element(By.ID, "predicted-class").text in data.CLASS_NAMES
