"""The demo page in a real browser: Debian's chromium, driven by Selenium through Debian's
chromedriver (both installed by `make venv`), against a real uvicorn server on a free port."""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'speechtok[serve]')")
pytest.importorskip("selenium", reason="the serve extra is not installed (pip install 'speechtok[serve]')")
import uvicorn  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service as DriverService  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402
from serve_helpers import CAUSAL, register_test_tokenizers  # noqa: E402

from speechtok.serve import Limits, create_app  # noqa: E402
from speechtok.serve.models import load_tokenizers  # noqa: E402

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="Debian's chromium and chromium-driver are not installed (`make venv` installs them: apt-get install chromium chromium-driver)",
)
SERVED = ["opus@6kbps", "codec2@3200", CAUSAL]


@pytest.fixture(scope="module")
def server():
    register_test_tokenizers()
    from speechtok.serve.tts import load_voices

    app = create_app(load_tokenizers(SERVED), Limits(max_duration_s=20), voices=load_voices(["speechtok-tts-en"]))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--mute-audio",
                "--autoplay-policy=no-user-gesture-required",
                # a fake microphone (a beeping tone) that needs no permission prompt: the Record button's test
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=DriverService(executable_path=CHROMEDRIVER), options=opts)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


def wait(driver, condition, seconds=60):
    return WebDriverWait(driver, seconds, poll_frequency=0.1).until(lambda d: condition(d))


def audio_durations(driver, selector: str) -> list[float]:
    """Durations (s) of the <audio> elements under ``selector``, once the browser decoded them."""
    return driver.execute_async_script(
        """const [sel, done] = arguments;
        const els = [...document.querySelectorAll(sel + ' audio')];
        Promise.all(els.map((a) => a.readyState >= 1 ? a.duration :
            new Promise((ok) => { a.onloadedmetadata = () => ok(a.duration); a.onerror = () => ok(-1); a.load(); })))
          .then(done);""",
        selector,
    )


def canvas_has_picture(driver, canvas) -> bool:
    """True when the canvas was drawn with more than one colour."""
    return driver.execute_script(
        """const c = arguments[0];
        if (!c.width || !c.height) return false;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 4; i < d.length; i += 4) if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2]) return true;
        return false;""",
        canvas,
    )


def test_upload_tokenize_listen_and_stream(server, browser, speech_paths):
    clip = speech_paths[0]
    browser.get(server + "/")
    choose(browser, ["opus@6kbps", CAUSAL])

    browser.find_element(By.ID, "file").send_keys(str(clip))
    wait(browser, lambda d: "ready" in d.find_element(By.ID, "input-status").text)
    browser.find_element(By.ID, "run").click()
    wait(browser, lambda d: d.find_element(By.ID, "run-status").text in ("done",) or "error" in d.find_element(By.ID, "run-status").get_attribute("class"))
    assert browser.find_element(By.ID, "run-status").text == "done"

    cards = browser.find_elements(By.CSS_SELECTOR, "#results .card")
    assert [c.find_element(By.TAG_NAME, "h3").text for c in cards] == [f"original: {clip.name}", "opus@6kbps", CAUSAL]
    assert all(c.get_attribute("data-done") == "1" for c in cards), [c.text for c in cards]
    durations = audio_durations(browser, "#results")
    assert len(durations) == 3 and all(abs(d - durations[0]) < 0.05 for d in durations), durations  # the clip is 3.5 s
    assert 3.0 < durations[0] < 4.0
    for c in cards[1:]:
        kbps = float(c.find_element(By.CSS_SELECTOR, '[data-figure="measured kbps"]').text)
        tps = float(c.find_element(By.CSS_SELECTOR, '[data-figure="tokens/s"]').text)
        assert kbps > 0 and tps > 0
        assert canvas_has_picture(browser, c.find_element(By.CSS_SELECTOR, "canvas.spectrogram"))
        assert canvas_has_picture(browser, c.find_element(By.CSS_SELECTOR, "canvas.codes"))
    opus = cards[1]
    assert 5.9 < float(opus.find_element(By.CSS_SELECTOR, '[data-figure="measured kbps"]').text) < 6.2

    # streaming: the same clip through the causal codec over the WebSocket
    Select(browser.find_element(By.ID, "stream-tokenizer")).select_by_value(CAUSAL)
    browser.find_element(By.ID, "stream").click()
    wait(browser, lambda d: d.find_element(By.ID, "stream-status").text in ("done",) or "error" in d.find_element(By.ID, "stream-status").get_attribute("class"))
    assert browser.find_element(By.ID, "stream-status").text == "done"
    result = browser.find_element(By.ID, "stream-result")
    assert int(result.find_element(By.CSS_SELECTOR, '[data-figure="chunks"]').text) >= 170  # 3.5 s in 20 ms chunks
    assert float(result.find_element(By.CSS_SELECTOR, '[data-figure="latency p50"]').text.split()[0]) > 0
    (streamed,) = audio_durations(browser, "#stream-result")
    assert abs(streamed - durations[0]) < 0.05


def choose(browser, names):
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#tokenizers input")) == len(SERVED))
    for box in browser.find_elements(By.CSS_SELECTOR, "#tokenizers input"):
        if box.is_selected() != (box.get_attribute("value") in names):
            box.click()


def test_record_from_the_microphone(server, browser):
    browser.get(server + "/")
    choose(browser, ["opus@6kbps"])
    record = browser.find_element(By.ID, "record")
    record.click()
    wait(browser, lambda d: d.find_element(By.ID, "record").text == "Stop", 10)
    time.sleep(1.5)
    record.click()
    wait(browser, lambda d: d.find_element(By.ID, "input-status").text.startswith("ready: recording.wav"), 20)
    browser.find_element(By.ID, "run").click()
    wait(browser, lambda d: d.find_element(By.ID, "run-status").text == "done" or "error" in d.find_element(By.ID, "run-status").get_attribute("class"))
    cards = browser.find_elements(By.CSS_SELECTOR, "#results .card")
    assert [c.get_attribute("data-done") for c in cards] == ["1", "1"], [c.text for c in cards]
    original, decoded = audio_durations(browser, "#results")
    assert 1.0 < original < 3.0 and abs(decoded - original) < 0.05


def test_a_refused_request_shows_its_reason(server, browser, tmp_path):
    bad = tmp_path / "not-audio.wav"
    bad.write_text("this is not audio\n")
    browser.get(server + "/")
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#tokenizers input")) == len(SERVED))
    browser.find_element(By.ID, "file").send_keys(str(bad))
    wait(browser, lambda d: "ready" in d.find_element(By.ID, "input-status").text)
    browser.find_element(By.ID, "run").click()
    wait(browser, lambda d: d.find_element(By.ID, "run-status").text == "done", 30)
    cards = browser.find_elements(By.CSS_SELECTOR, "#results .card")
    refused = [c for c in cards if c.get_attribute("data-done") == "error"]
    assert len(refused) == len(cards) - 1 >= 1  # every tokenizer card, not the original
    for c in refused:
        assert "uploaded audio: not a readable audio file" in c.find_element(By.CSS_SELECTOR, "p.error").text


def test_text_to_speech_box(server, browser):
    """The text box speaks through the shipped English voice, and its speech can feed the tokenizers."""
    browser.get(server + "/")
    wait(browser, lambda d: d.find_element(By.ID, "tts-section").is_displayed())
    assert "speechtok-tts-en" in Select(browser.find_element(By.ID, "tts-voice")).first_selected_option.text
    box = browser.find_element(By.ID, "tts-text")
    box.clear()
    box.send_keys("Please enter your account number. Thank you.")
    browser.find_element(By.ID, "tts-speak").click()
    wait(browser, lambda d: d.find_element(By.ID, "tts-result").get_attribute("data-done") in ("1", "error"))
    assert browser.find_element(By.ID, "tts-result").get_attribute("data-done") == "1", browser.find_element(By.ID, "tts-status").text
    (seconds,) = audio_durations(browser, "#tts-result")
    assert 1.5 < seconds < 8, seconds
    assert canvas_has_picture(browser, browser.find_element(By.CSS_SELECTOR, "#tts-result canvas.spectrogram"))
    browser.find_element(By.ID, "tts-use").click()
    assert "text to speech" in browser.find_element(By.ID, "input-status").text
    # a refused text shows the server's reason
    box.clear()
    box.send_keys("hello \u2603")
    browser.find_element(By.ID, "tts-speak").click()
    wait(browser, lambda d: "error" in d.find_element(By.ID, "tts-status").get_attribute("class"))
    assert "SNOWMAN" in browser.find_element(By.ID, "tts-status").text
