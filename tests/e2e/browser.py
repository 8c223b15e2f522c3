"""A headless Chromium for end-to-end tests, driven over the DevTools protocol.

Run with /usr/bin/python3 (Debian's python3-websockets).  No npm, no webdriver:

  PageServer   scripts/lib/web_server.py's server (what scripts/run serves) on a free
               127.0.0.1 port: web/ under /, tests/e2e/pages/ under /e2e/, Debian's janus.js
               (libjs-janus-gateway) as /janus.js and webrtc-adapter (libjs-webrtc-adapter)
               as /adapter.js
  Browser      Debian's chromium (headless, fake camera and microphone, a fresh profile,
               DevTools on a port the OS picks on 127.0.0.1), stopped by its pid
  Page         one tab: evaluate(js) (awaits promises), wait_for(js), console_errors(),
               screenshot(path)

    async with Browser() as browser:
        page = await browser.open(server.url("e2e/media.html"))
        await page.evaluate("jm.connect(%s).then(c => { window.conn = c; })"
                            % json.dumps(janus.ws_url))

WebRTC stays on loopback: Chromium gathers on 127.0.0.1 with
--allow-loopback-in-peer-connection (it skips loopback interfaces otherwise), binds
nothing else (LD_PRELOAD of lo_bind.c), shows its host candidates as addresses rather
than mDNS names (Janus runs with ignore_mdns), and pages/loopback.js, injected into every
page before its scripts, hands janus.js only its 127.0.0.1 UDP candidates.
"""

import asyncio
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import LOOPBACK, HarnessError, build_shim, terminate  # noqa: E402

PAGES_DIR = Path(__file__).resolve().parent / "pages"
LOOPBACK_SCRIPT = PAGES_DIR / "loopback.js"
BIND_SHIM_SOURCE = Path(__file__).resolve().parent / "lo_bind.c"
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "lib"))
import web_server  # noqa: E402
# The browser binary itself: /usr/bin/chromium is a shell wrapper that sources
# /etc/chromium.d (extensions, API keys) before it execs this.
CHROMIUM = os.environ.get("JMEDIA_CHROMIUM", "/usr/lib/chromium/chromium")

CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-default-apps", "--mute-audio",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    # Every tab of a test is in the background but one: keep their timers and rendering
    # at full speed (a watch page's stats loop, a publisher's encoder).
    "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--remote-debugging-address=" + LOOPBACK,
    "--remote-debugging-port=0",  # the OS picks; Chromium writes it to DevToolsActivePort
)


class BrowserError(HarnessError):
    pass


class JsError(BrowserError):
    """A page's script threw (or a promise it returned was rejected)."""


# ==========================================================================
# the pages
# ==========================================================================
class PageServer(web_server.WebServer):
    """The product's web server (scripts/lib/web_server.py) on a free loopback port, from a
    thread of the test process: web/ under /, tests/e2e/pages/ under /e2e/, Debian's
    janus.js and adapter.js.  Context manager, or start()/stop()."""

    def __init__(self, mounts=None, files=None):
        super().__init__(mounts={"/": web_server.WEB_DIR, "/e2e/": PAGES_DIR}
                         if mounts is None else mounts, files=files)

    def start(self):
        try:
            return super().start()
        except web_server.WebServerError as e:
            raise BrowserError(str(e)) from None


def side_by_side(images, out, gap=24, background=(29, 35, 48)):
    """PNG files next to each other (top-aligned, a gap between) as one PNG at out
    (python3-pil)."""
    from PIL import Image
    frames = [Image.open(path).convert("RGB") for path in images]
    width = sum(f.width for f in frames) + gap * (len(frames) + 1)
    height = max(f.height for f in frames) + 2 * gap
    sheet = Image.new("RGB", (width, height), background)
    x = gap
    for f in frames:
        sheet.paste(f, (x, gap))
        x += f.width + gap
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, optimize=True)
    return Path(out)


# ==========================================================================
# the browser
# ==========================================================================
def _group_members(pgid):
    """Pids of the processes in process group pgid (from /proc/<pid>/stat)."""
    members = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and int(name) != pgid:
            members.add(int(name))
    return members


class Page:
    """One tab, attached over the browser's DevTools connection (a flat session)."""

    def __init__(self, browser, target_id, session_id):
        self.browser = browser
        self.target_id = target_id
        self.session_id = session_id
        self.console = []     # (level, text) of every console message
        self.exceptions = []  # uncaught exceptions' text

    async def call(self, method, params=None, timeout=None):
        return await self.browser.call(method, params, session_id=self.session_id,
                                       timeout=timeout)

    async def evaluate(self, expression, timeout=20.0):
        """The value of a JS expression (a promise is awaited), as JSON-compatible Python.
        JsError when it throws or the promise is rejected."""
        reply = await self.call("Runtime.evaluate", {
            "expression": expression, "awaitPromise": True, "returnByValue": True,
            "userGesture": True}, timeout=timeout)
        details = reply.get("exceptionDetails")
        if details:
            exception = details.get("exception") or {}
            text = exception.get("description") or exception.get("value") or details.get("text")
            raise JsError("%s\n  in: %s" % (text, expression[:300]))
        return reply.get("result", {}).get("value")

    async def wait_for(self, expression, timeout, what=None, step=0.1):
        """Evaluates expression until it is truthy (at most timeout seconds); returns it."""
        deadline = time.monotonic() + timeout
        last = None
        for _ in range(int(timeout / step) + 10):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            last = await self.evaluate(expression, timeout=max(1.0, remaining))
            if last:
                return last
            await asyncio.sleep(step)
        raise TimeoutError("%s not true after %.1f s (last: %r)"
                           % (what or expression, timeout, last))

    async def screenshot(self, path):
        """The tab as it is drawn now, as a PNG file at path (folders created)."""
        import base64
        shot = await self.call("Page.captureScreenshot", {"format": "png"}, timeout=30.0)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(base64.b64decode(shot["data"]))
        return Path(path)

    async def text(self, selector):
        """textContent of the first element matching selector (None when there is none)."""
        return await self.evaluate("(e => e ? e.textContent : null)(document.querySelector(%s))"
                                   % json.dumps(selector))

    def console_errors(self):
        """Console errors and uncaught exceptions so far."""
        return [text for level, text in self.console if level == "error"] + self.exceptions

    def _event(self, method, params):
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", a.get("type"))))
                            for a in params.get("args", []))
            self.console.append((params.get("type"), text))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exception = details.get("exception") or {}
            self.exceptions.append(exception.get("description") or details.get("text", "?"))

    async def close(self):
        await self.browser.call("Target.closeTarget", {"targetId": self.target_id})


class Browser:
    """A private headless Chromium.  `async with Browser() as b`, or await start()/stop().

    Attributes once started: pid, devtools_port, profile_dir, log_path.  The profile
    directory (and the log) is removed by stop() unless JMEDIA_KEEP_TMP=1.
    """

    def __init__(self, *, chromium=CHROMIUM, extra_flags=(), start_timeout=30.0,
                 call_timeout=20.0, keep_tmpdir=None):
        self.chromium = chromium
        self.extra_flags = tuple(extra_flags)
        self.start_timeout = float(start_timeout)
        self.call_timeout = float(call_timeout)
        if keep_tmpdir is None:
            keep_tmpdir = os.environ.get("JMEDIA_KEEP_TMP") == "1"
        self.keep_tmpdir = keep_tmpdir
        self.proc = None
        self.tmpdir = self.profile_dir = self.log_path = None
        self.devtools_port = None
        self.pages = {}
        self._ws = None
        self._reader = None
        self._ids = itertools.count(1)
        self._pending = {}
        self._log_file = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc):
        await self.stop()
        return False

    async def start(self):
        import websockets  # python3-websockets
        if not os.access(self.chromium, os.X_OK):
            raise BrowserError("%s is missing: scripts/deps installs Debian's chromium"
                               % self.chromium)
        preload = " ".join(filter(None, (build_shim(BIND_SHIM_SOURCE),
                                         os.environ.get("LD_PRELOAD"))))
        env = dict(os.environ, LD_PRELOAD=preload)
        self.tmpdir = tempfile.mkdtemp(prefix="jmedia-chromium-")
        self.profile_dir = os.path.join(self.tmpdir, "profile")
        self.log_path = os.path.join(self.tmpdir, "chromium.log")
        self._log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [self.chromium, *CHROMIUM_FLAGS, "--user-data-dir=" + self.profile_dir,
             *self.extra_flags, "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
            cwd=self.tmpdir, env=env, start_new_session=True)
        try:
            url = await self._devtools_url()
            self._ws = await asyncio.wait_for(
                websockets.connect(url, max_size=None, ping_interval=None), self.call_timeout)
            self._reader = asyncio.ensure_future(self._read())
        except BaseException:
            await self.stop()
            raise
        return self

    async def _devtools_url(self):
        """Polls DevToolsActivePort (port, then the browser target's path), bounded."""
        active = os.path.join(self.profile_dir, "DevToolsActivePort")
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrowserError("chromium exited with %s at start\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            try:
                lines = Path(active).read_text().split()
            except OSError:
                lines = []
            if len(lines) >= 2:
                self.devtools_port = int(lines[0])
                return "ws://%s:%d%s" % (LOOPBACK, self.devtools_port, lines[1])
            await asyncio.sleep(0.05)
        raise BrowserError("chromium wrote no DevToolsActivePort in %.0f s\n%s"
                           % (self.start_timeout, self.log_tail()))

    async def _read(self):
        try:
            async for raw in self._ws:
                message = json.loads(raw)
                if "id" in message:
                    future = self._pending.pop(message["id"], None)
                    if future is not None and not future.done():
                        future.set_result(message)
                else:
                    page = self.pages.get(message.get("sessionId"))
                    if page is not None:
                        page._event(message.get("method"), message.get("params", {}))
        except Exception:  # the connection closed: every caller waiting gets an error
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(BrowserError("the DevTools connection closed"))
            self._pending.clear()

    async def call(self, method, params=None, session_id=None, timeout=None):
        """One DevTools command; its result (BrowserError on a protocol error)."""
        if self._ws is None:
            raise BrowserError("the browser is not running")
        message_id = next(self._ids)
        message = {"id": message_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        future = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        await self._ws.send(json.dumps(message))
        try:
            reply = await asyncio.wait_for(future, timeout or self.call_timeout)
        except asyncio.TimeoutError:
            raise TimeoutError("DevTools %s: no answer in %.1f s"
                               % (method, timeout or self.call_timeout)) from None
        finally:
            self._pending.pop(message_id, None)
        if "error" in reply:
            raise BrowserError("DevTools %s: %s" % (method, reply["error"]))
        return reply.get("result", {})

    async def open(self, url, timeout=20.0, size=None, loopback_only=True, scripts=()):
        """A new tab showing url, loaded (document.readyState complete).  size: (width,
        height) of its viewport in CSS pixels.  loopback_only: pages/loopback.js runs
        before the page's own scripts (janus.js sees only 127.0.0.1 UDP candidates), as
        does each JavaScript source in scripts."""
        target = await self.call("Target.createTarget", {"url": "about:blank"})
        target_id = target["targetId"]
        attached = await self.call("Target.attachToTarget",
                                   {"targetId": target_id, "flatten": True})
        page = Page(self, target_id, attached["sessionId"])
        self.pages[page.session_id] = page
        await page.call("Runtime.enable")
        await page.call("Page.enable")
        sources = ([LOOPBACK_SCRIPT.read_text()] if loopback_only else []) + list(scripts)
        for source in sources:
            await page.call("Page.addScriptToEvaluateOnNewDocument", {"source": source})
        if size:
            await page.call("Emulation.setDeviceMetricsOverride", {
                "width": int(size[0]), "height": int(size[1]), "deviceScaleFactor": 1,
                "mobile": False})
            await page.call("Emulation.setScrollbarsHidden", {"hidden": True})
        await page.call("Page.navigate", {"url": url})
        await page.wait_for("location.href === %s && document.readyState === 'complete'"
                            % json.dumps(url), timeout, "%s loaded" % url)
        return page

    def processes(self):
        """Pids of chromium and of its helper processes (its process group)."""
        if self.proc is None:
            return []
        return [self.proc.pid] + sorted(_group_members(self.proc.pid))

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
        except (OSError, TypeError):
            return ""

    async def stop(self, timeout=10.0):
        """Closes the DevTools connection, then stops chromium by its pid (SIGTERM, SIGKILL
        after timeout) and any helper process left in its process group.  Idempotent."""
        if self._ws is not None:
            try:
                await asyncio.wait_for(self._ws.close(), 5)
            except Exception:
                pass
            self._ws = None
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 5)
            except Exception:
                self._reader.cancel()
            self._reader = None
        self.stop_process(timeout)

    def stop_process(self, timeout=10.0):
        """The synchronous part of stop(): chromium by its pid (SIGTERM, SIGKILL after
        timeout), then any helper process left in its process group, the profile.
        Idempotent; safe as a unittest cleanup when the event loop is gone."""
        if self.proc is not None:
            # Renderer, GPU and utility processes are in the process group we started
            # (pgid = chromium's pid): they exit with the browser; any left are ended by pid.
            helpers = _group_members(self.proc.pid)
            terminate(self.proc, timeout, "chromium")
            for pid in helpers & _group_members(self.proc.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self.tmpdir and not self.keep_tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None
