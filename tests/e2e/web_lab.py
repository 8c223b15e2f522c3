"""The product's web pages (web/) in headless Chromium, as a person uses them: what
tests/e2e/test_web.py and scripts/web-screenshot share.

  lab = WebLab(janus, pages, browser)          # a JanusProcess, a PageServer, a Browser
  pub = await lab.open("publish.html", device="web-cam-1", autostart="1")
  await lab.wait_state(pub, "publishing")
  frames = await lab.number(view, "frames_decoded")

A page shows its state in #state ("publishing", "watching", "echoing", "error: <code>
<text>", ...) and its numbers in #stats, each in a <dd data-stat="key">: that is what is read
here, never the page's internals.
"""

import asyncio
import json
import re
import time
import urllib.parse

STEP_TIMEOUT = 30.0        # each wait for a state (generous: a loaded 2-core machine)
VIEWPORT = (800, 720)      # CSS pixels of each tab (half a laptop's screen)


class WebLab:
    def __init__(self, janus, pages, browser):
        self.janus = janus
        self.pages = pages
        self.browser = browser

    def url(self, page, **params):
        params.setdefault("server", self.janus.ws_url)
        return "%s?%s" % (self.pages.url(page), urllib.parse.urlencode(params))

    async def open(self, page, size=VIEWPORT, scripts=(), **params):
        return await self.browser.open(self.url(page, **params), size=size, scripts=scripts)

    async def state(self, page):
        return await page.text("#state")

    async def wait_state(self, page, pattern, timeout=STEP_TIMEOUT):
        """The page's state once it matches the regular expression pattern (from its start).
        An error state that pattern does not expect fails at once."""
        expects_error = pattern.startswith("error")
        found = await page.wait_for(
            "(t => t && (new RegExp(%s).test(t) || (%s && t.startsWith('error:'))) && t)"
            "((document.getElementById('state') || {}).textContent)"
            % (json.dumps("^(?:%s)" % pattern), "false" if expects_error else "true"),
            timeout, "state /%s/ of %s" % (pattern, await page.evaluate("location.pathname")))
        if not re.match("^(?:%s)" % pattern, found):
            raise AssertionError("%s shows %r while waiting for /%s/"
                                 % (await page.evaluate("location.pathname"), found, pattern))
        return found

    async def stat(self, page, key):
        return await page.text('#stats [data-stat="%s"]' % key)

    async def number(self, page, key):
        text = await self.stat(page, key)
        try:
            return int(text)
        except (TypeError, ValueError):
            return None

    async def frames_grow(self, page, min_frames, over=3.0, bound=STEP_TIMEOUT):
        """Reads frames decoded now and until `over` seconds later it grew by min_frames
        (at most `bound` seconds): (first, last, seconds). AssertionError past the bound."""
        first = await self.number(page, "frames_decoded") or 0
        t0 = time.monotonic()
        last = first
        while time.monotonic() - t0 < bound:
            await asyncio.sleep(0.25)
            last = await self.number(page, "frames_decoded") or 0
            elapsed = time.monotonic() - t0
            if elapsed >= over and last - first >= min_frames:
                return first, last, elapsed
        raise AssertionError("frames decoded grew from %d to %d in %.0f s (wanted +%d): "
                             "state %r" % (first, last, bound, min_frames,
                                           await self.state(page)))

    async def click_and_wait(self, page, element_id, pattern):
        """Clicks the element (a button) and waits for the page's state to match pattern."""
        await page.evaluate("document.getElementById(%s).click()" % json.dumps(element_id))
        return await self.wait_state(page, pattern)

    async def publish_and_watch(self, device, resolution="320x240"):
        """A publish.html tab publishing device and a watch.html tab watching it, both up."""
        pub = await self.open("publish.html", device=device, autostart="1",
                              resolution=resolution)
        await self.wait_state(pub, "publishing")
        view = await self.open("watch.html", device=device, autostart="1")
        await self.wait_state(view, "watching")
        return pub, view
