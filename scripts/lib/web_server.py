#!/usr/bin/python3
"""The static server of the web pages: web/ plus Debian's janus.js and adapter.js.

  scripts/run starts it next to janus:
      web_server.py --port 8080 --watch-pid <janus pid>
  (127.0.0.1 only; it exits when that pid is gone, so it stops with janus).

  tests/e2e/browser.py's PageServer is the same server on a free port, in a thread of the
  test process (WebServer below).

Files: everything under web/ at /, and at /janus.js and /adapter.js the copies of
libjs-janus-gateway and libjs-webrtc-adapter (the pages load them from there). Each mount
maps a URL prefix to a folder; nothing outside the folders is served (http.server's
translate_path keeps paths inside its directory).
"""

import argparse
import functools
import http.server
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WEB_DIR = ROOT / "web"
JANUS_JS = Path("/usr/share/javascript/janus-gateway/janus.js")
ADAPTER_JS = Path("/usr/share/javascript/webrtc-adapter/adapter.js")
DEBIAN_FILES = {"/janus.js": JANUS_JS, "/adapter.js": ADAPTER_JS}
LOOPBACK = "127.0.0.1"


class WebServerError(RuntimeError):
    pass


def _handler(mounts, files):
    """A request handler serving files (exact URL path -> file) and mounts (URL prefix ending
    in '/' -> folder, longest prefix first)."""
    ordered = sorted(mounts.items(), key=lambda item: -len(item[0]))

    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = dict(http.server.SimpleHTTPRequestHandler.extensions_map,
                              **{".js": "text/javascript", ".mjs": "text/javascript"})

        def translate_path(self, path):
            bare = path.split("?", 1)[0].split("#", 1)[0]
            if bare in files:
                return str(files[bare])
            for prefix, folder in ordered:
                if bare.startswith(prefix):
                    self.directory = str(folder)
                    return super().translate_path("/" + path[len(prefix):])
            return os.devnull + ".missing"  # 404

        def end_headers(self):
            # The pages change with the checkout: never a stale module in a tab.
            self.send_header("Cache-Control", "no-store")
            super().end_headers()

        def log_message(self, *args):
            pass

    return Handler


class WebServer:
    """http.server on host:port (port 0: the OS picks) in a daemon thread.  Context manager,
    or start()/stop(); url(path) once started."""

    def __init__(self, mounts=None, files=None, host=LOOPBACK, port=0):
        self.mounts = {"/": WEB_DIR} if mounts is None else dict(mounts)
        self.files = dict(DEBIAN_FILES if files is None else files)
        self.host = host
        self.port = port
        self.httpd = None
        self._thread = None

    def url(self, path=""):
        return "http://%s:%d/%s" % (self.host, self.httpd.server_address[1], path.lstrip("/"))

    def check(self):
        for path, file in self.files.items():
            if not Path(file).is_file():
                raise WebServerError("%s (for %s) is missing: scripts/deps installs it"
                                     % (file, path))
        for prefix, folder in self.mounts.items():
            if not prefix.endswith("/") or not Path(folder).is_dir():
                raise WebServerError("bad mount %s -> %s" % (prefix, folder))

    def start(self):
        self.check()
        handler = functools.partial(_handler(self.mounts, self.files), directory=str(WEB_DIR))
        self.httpd = http.server.ThreadingHTTPServer((self.host, self.port), handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="web-server",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self._thread.join(10)
            self.httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def main(argv):
    p = argparse.ArgumentParser(description="Serve web/ and Debian's janus.js/adapter.js.")
    p.add_argument("--host", default=LOOPBACK)
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--watch-pid", type=int, default=0,
                   help="exit when this process is gone (scripts/run: janus)")
    args = p.parse_args(argv)
    try:
        server = WebServer(host=args.host, port=args.port).start()
    except (OSError, WebServerError) as e:
        sys.stderr.write("web pages: cannot serve on %s:%d: %s\n" % (args.host, args.port, e))
        return 1
    try:
        while not args.watch_pid or _alive(args.watch_pid):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
