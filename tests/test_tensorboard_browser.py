"""TensorBoard's Graphs tab of a transfer run, in a real (headless) browser.

Marked slow, and skipped where no `chromium` is installed (Debian: `apt-get install
chromium`). It trains the small transfer run of `test_summaries`, serves its logs with
TensorBoard on a free port, drives Chromium over the DevTools protocol (on a pipe, so
no port is opened for it) to colour the graph by device, the mark of restored layers,
and checks what the page shows. Set DNN_TOOLKIT_SCREENSHOT to a path to keep the PNG:

    DNN_TOOLKIT_SCREENSHOT=docs/tensorboard_graph.png \
        python -m pytest -m slow tests/test_tensorboard_browser.py
"""

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np
import pytest
from _helpers import stop_process
from matplotlib import image
from test_summaries import _free_port, train_transfer_run

from dnn_toolkit import summaries

pytestmark = pytest.mark.slow
DEADLINE_S = 90
WIDTH, HEIGHT = 1400, 900
# Finds elements through TensorBoard's nested shadow roots.
_DEEP_QUERY = """
function deepAll(root, out) {
  for (const el of root.querySelectorAll("*")) {
    out.push(el);
    if (el.shadowRoot) deepAll(el.shadowRoot, out);
  }
  return out;
}
"""
# The top-level nodes drawn in the Main Graph, and whether the Device button is there.
_PAGE_STATE = _DEEP_QUERY + """
(() => {
  const all = deepAll(document, []);
  // A label holds the shown (maybe shortened) name, then a <title> with the full one.
  const labels = all.filter(el => el.matches && el.matches("g.node text.nodelabel"))
                    .map(el => (el.querySelector("title") || el).textContent.trim());
  const device = all.find(el => el.tagName === "PAPER-RADIO-BUTTON" &&
                                el.textContent.trim() === "Device");
  return JSON.stringify({labels: labels, device: !!device});
})()
"""
_COLOR_BY_DEVICE = _DEEP_QUERY + """
(() => {
  const all = deepAll(document, []);
  all.find(el => el.tagName === "PAPER-RADIO-BUTTON" &&
                 el.textContent.trim() === "Device").click();
  return "clicked";
})()
"""
# The device names the legend lists (TensorBoard leaves out their common prefix).
_DEVICE_LEGEND = _DEEP_QUERY + """
(() => JSON.stringify(deepAll(document, [])
    .filter(el => el.classList && el.classList.contains("color-legend-value"))
    .map(el => el.textContent.trim())))()
"""


class DevTools:
  """A headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4)."""

  def __init__(self, chromium, profile):
    to_browser_read, self._to_browser = os.pipe()
    self._from_browser, from_browser_write = os.pipe()
    # Copies at 10 or above, so that placing them at 3 and 4 in the child (where
    # Chromium expects them) overwrites neither.
    reader = fcntl.fcntl(to_browser_read, fcntl.F_DUPFD_CLOEXEC, 10)
    writer = fcntl.fcntl(from_browser_write, fcntl.F_DUPFD_CLOEXEC, 10)

    def place_pipes():
      os.dup2(reader, 3)  # dup2 clears close-on-exec: these two reach Chromium.
      os.dup2(writer, 4)

    argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
            f"--window-size={WIDTH},{HEIGHT}", "--remote-debugging-pipe",
            "about:blank"]
    self.process = subprocess.Popen(  # pylint: disable=subprocess-popen-preexec-fn
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        pass_fds=(3, 4), preexec_fn=place_pipes)
    for fd in (to_browser_read, from_browser_write, reader, writer):
      os.close(fd)
    self._next_id, self._buffer, self.session = 0, b"", None

  def call(self, method, deadline, **params):
    """Sends one command (to the attached page once there is one); returns its result."""
    self._next_id += 1
    message = {"id": self._next_id, "method": method, "params": params}
    if self.session and not method.startswith(("Target.", "Browser.")):
      message["sessionId"] = self.session
    os.write(self._to_browser, json.dumps(message).encode() + b"\0")
    while True:
      reply = self._read(deadline)
      if reply.get("id") == self._next_id:
        if "error" in reply:
          raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

  def evaluate(self, expression, deadline):
    result = self.call("Runtime.evaluate", deadline, expression=expression,
                       returnByValue=True)
    return result["result"].get("value")

  def _read(self, deadline):
    while b"\0" not in self._buffer:
      left = deadline - time.monotonic()
      if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
        raise TimeoutError("Chromium did not answer in time")
      chunk = os.read(self._from_browser, 1 << 20)
      if not chunk:
        raise RuntimeError("Chromium closed the DevTools pipe")
      self._buffer += chunk
    message, self._buffer = self._buffer.split(b"\0", 1)
    return json.loads(message)

  def close(self):
    """Ends the browser by its pid, within 10 s."""
    for fd in (self._to_browser, self._from_browser):
      os.close(fd)
    self.process.terminate()
    try:
      self.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
      self.process.kill()
      self.process.wait()


def _serve(logdir, log):
  port = _free_port()
  argv = summaries.tensorboard_command(logdir, port) + ["--load_fast=false"]
  process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
  deadline = time.monotonic() + DEADLINE_S
  while time.monotonic() < deadline:
    try:
      url = f"http://127.0.0.1:{port}/data/plugin/graphs/info"
      with urllib.request.urlopen(url, timeout=2) as response:
        if json.loads(response.read()).get("train", {}).get("run_graph"):
          return process, port
    except OSError:
      pass
    if process.poll() is not None:
      break
    time.sleep(0.5)
  _stop(process)
  pytest.fail("TensorBoard did not serve the train run's graph in time")


def _stop(process):
  stop_process(process)


def _wait_for_graph(browser, deadline):
  while time.monotonic() < deadline:
    state = json.loads(browser.evaluate(_PAGE_STATE, deadline))
    if state["device"] and "dnn" in state["labels"] and "train" in state["labels"]:
      return state["labels"]
    time.sleep(0.5)
  pytest.fail(f"The Graphs tab drew no dnn and train in {DEADLINE_S} s")


def test_the_graphs_tab_shows_the_net_and_its_restored_layers(tmp_path):
  chromium = shutil.which("chromium")
  if chromium is None:
    pytest.skip("no chromium installed (Debian: apt-get install chromium)")
  run_dir, checkpoint, _, _ = train_transfer_run(str(tmp_path))
  screenshot = tmp_path / "graph.png"
  with open(tmp_path / "tensorboard.log", "wb") as log:
    server, port = _serve(summaries.find_logdir(run_dir), log)
  profile = tempfile.mkdtemp(dir=tmp_path)
  browser = None
  try:
    browser = DevTools(chromium, profile)
    deadline = time.monotonic() + DEADLINE_S
    target = browser.call("Target.createTarget", deadline,
                          url=f"http://127.0.0.1:{port}/#graphs&run=train")
    browser.session = browser.call("Target.attachToTarget", deadline, flatten=True,
                                   targetId=target["targetId"])["sessionId"]
    browser.call("Emulation.setDeviceMetricsOverride", deadline, width=WIDTH,
                 height=HEIGHT, deviceScaleFactor=1, mobile=False)
    labels = _wait_for_graph(browser, deadline)
    # The Main Graph draws the net: nothing of it is in "Auxiliary Nodes".
    for name in ("X", "dnn", "hidden1", "hidden4", "outputs", "loss", "train", "eval"):
      assert name in labels, labels
    assert browser.evaluate(_COLOR_BY_DEVICE, deadline) == "clicked"
    time.sleep(1.0)  # The colours change with a transition.
    legend = json.loads(browser.evaluate(_DEVICE_LEGEND, deadline))
    for device in ("restored_frozen:0", "restored:0", "new:0"):
      assert device in legend, legend
    png = browser.call("Page.captureScreenshot", deadline, format="png")["data"]
    screenshot.write_bytes(base64.b64decode(png))
  finally:
    if browser is not None:
      browser.close()
    _stop(server)
  pixels = image.imread(str(screenshot))
  assert pixels.shape[:2] == (HEIGHT, WIDTH)
  assert np.unique(pixels[..., :3].reshape(-1, 3), axis=0).shape[0] > 50  # drawn
  if os.environ.get("DNN_TOOLKIT_SCREENSHOT"):
    shutil.copyfile(screenshot, os.environ["DNN_TOOLKIT_SCREENSHOT"])


# The cards of Time Series' pinned section, in order, and the tag groups below it.
_TIME_SERIES = """
(() => JSON.stringify({
  pinned: Array.from(document.querySelectorAll(
      "metrics-pinned-view tb-truncated-path")).map(el => el.getAttribute("title")),
  groups: Array.from(document.querySelectorAll(
      "metrics-card-groups .group-title, metrics-card-groups .group-name"))
      .map(el => el.textContent.trim()).filter(t => t)}))()
"""


def _announced_url(process, deadline):
  """The URL line `dnn-toolkit tensorboard` prints once TensorBoard answers."""
  seen = ""
  while time.monotonic() < deadline:
    if select.select([process.stdout], [], [], 1.0)[0]:
      chunk = os.read(process.stdout.fileno(), 4096).decode()
      if not chunk:
        break
      seen += chunk
      for line in seen.splitlines():
        if line.strip().startswith("open http"):
          return line.split("open ", 1)[1].strip()
  pytest.fail(f"dnn-toolkit tensorboard printed no URL: {seen!r}")


def test_dnn_toolkit_tensorboard_opens_on_loss_and_accuracy(tmp_path):
  """The URL the command prints opens Time Series with the learning curves pinned on
  top, not on the alphabetically first tag groups (accuracy, activation_mean)."""
  chromium = shutil.which("chromium")
  if chromium is None:
    pytest.skip("no chromium installed (Debian: apt-get install chromium)")
  run_dir, _, _, _ = train_transfer_run(str(tmp_path))
  command = subprocess.Popen(
      [sys.executable, "-m", "dnn_toolkit", "tensorboard", run_dir, "--port", "0"],
      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
  browser = None
  try:
    deadline = time.monotonic() + DEADLINE_S
    url = _announced_url(command, deadline)
    browser = DevTools(chromium, tempfile.mkdtemp(dir=tmp_path))
    target = browser.call("Target.createTarget", deadline, url=url)
    browser.session = browser.call("Target.attachToTarget", deadline, flatten=True,
                                   targetId=target["targetId"])["sessionId"]
    state = {}
    while time.monotonic() < deadline:
      state = json.loads(browser.evaluate(_TIME_SERIES, deadline))
      if len(state["pinned"]) >= 2:
        break
      time.sleep(0.5)
    assert state["pinned"] == ["loss", "accuracy"], state
  finally:
    if browser is not None:
      browser.close()
    stop_process(command)
