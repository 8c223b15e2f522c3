"""End-to-end test harness for Janus (stock Debian janus + our modules).

Run everything with /usr/bin/python3 (Debian's aiortc/websockets).

Contents:
  free_port(), free_ports(n)      loopback TCP ports nobody listens on
  process_sockets(pid, proto)     local addresses of a process's udp/tcp sockets
  loopback_shim_path()            LD_PRELOAD shim making janus gather on lo
  build_shim(source)              any such shim (browser.py: lo_bind.c)
  JanusProcess                    a private janus (-F <tmp>/conf -o) on free
                                  127.0.0.1 ports, readiness polled, stopped
                                  by pid
  JanusWsClient                   asyncio Janus API client over websockets
  HttpClient, AdminClient         sync urllib clients (Janus / Admin API)
  restrict_ice_to_loopback(),     aiortc/aioice only on 127.0.0.1, no STUN,
  new_peer_connection(),          no TURN, no mDNS
  sdp_candidate_addresses()

All network traffic stays on 127.0.0.0/8.
"""

import asyncio
import collections
import glob
import json
import os
import random
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "scripts" / "lib"))
import janus_conf  # noqa: E402

JANUS_BIN = "/usr/bin/janus"
LOOPBACK = "127.0.0.1"
DEFAULT_MODULES_DIR = REPO_ROOT / "build" / "modules"

# Log lines meaning "one of our ports was taken": start again on fresh ports.
_PORT_CLASH_MARKERS = (
    "Couldn't start webserver",
    "Couldn't start admin/monitor webserver",
    "Error creating vhost",
    "Address already in use",
    "cannot listen on",           # janus.transport.edge
)


# For tests that drive Janus as a load generator, not as a client: thousands of requests a
# second over one connection, and HTTP sessions that are never long-polled (their events, e.g.
# every handle's "detached", pile up unread). janus.transport.edge's request-rate and
# outgoing-queue bounds are raised out of the way; the bounds themselves are tested in
# test_edge.py.
LOAD_GENERATOR_EDGE = {"limits": {"max_requests_per_s": 1000000, "request_burst": 1000000,
                                  "max_queued_messages": 1000000,
                                  "max_queued_bytes": 1 << 30, "send_timeout_ms": 3600000}}


class HarnessError(RuntimeError):
    pass


class JanusError(Exception):
    """A Janus API {"janus":"error"} reply."""

    def __init__(self, reply):
        err = reply.get("error") or {}
        self.code = err.get("code")
        self.reason = err.get("reason")
        self.reply = reply
        super().__init__("janus error %s: %s" % (self.code, self.reason))


def _transaction():
    return "".join(random.choice(string.ascii_letters + string.digits)
                   for _ in range(16))


# ==========================================================================
# ports
# ==========================================================================
def hloop_threads(pid):
    """Threads of pid named hloop: Janus 1.1.2 runs one per handle (without event_loops)."""
    count = 0
    for comm in glob.glob("/proc/%d/task/*/comm" % pid):
        try:
            with open(comm) as f:
                count += f.read().startswith("hloop")
        except OSError:
            pass  # the thread ended meanwhile
    return count


def free_ports(n, host=LOOPBACK):
    """Return n distinct TCP ports on host that were free a moment ago.

    All n sockets are held open together, so the ports are distinct.  There
    is an unavoidable race until the caller binds them; JanusProcess retries
    with fresh ports when it loses that race.
    """
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port(host=LOOPBACK):
    return free_ports(1, host)[0]


def _tcp_accepts(host, port, timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _listening_inodes(port):
    """Inodes of TCP sockets LISTENing on 127.0.0.1:port (from /proc/net/tcp)."""
    inodes = set()
    want = "0100007F:%04X" % port
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                if len(parts) > 9 and parts[1] == want and parts[3] == "0A":
                    inodes.add(parts[9])
    except OSError:
        pass
    return inodes


def _pid_socket_inodes(pid):
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return inodes
    for name in names:
        try:
            target = os.readlink(os.path.join(fd_dir, name))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def process_sockets(pid, proto="udp"):
    """[(ip, port)] local addresses of pid's sockets of proto (udp/tcp),
    from /proc/net/<proto>{,6} matched against /proc/<pid>/fd inodes."""
    mine = _pid_socket_inodes(pid)
    out = []
    for fam in ("", "6"):
        try:
            with open("/proc/net/%s%s" % (proto, fam)) as f:
                next(f)
                lines = f.readlines()
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) < 10 or parts[9] not in mine:
                continue
            hexip, hexport = parts[1].split(":")
            raw = bytes.fromhex(hexip)
            if len(raw) == 4:
                ip = socket.inet_ntop(socket.AF_INET, raw[::-1])
            else:   # four little-endian 32-bit words
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                ip = socket.inet_ntop(socket.AF_INET6, raw)
            out.append((ip, int(hexport, 16)))
    return out


def port_owned_by(pid, port):
    """True if process pid holds the socket listening on 127.0.0.1:port."""
    return bool(_listening_inodes(port) & _pid_socket_inodes(pid))


# ==========================================================================
# loopback-only getifaddrs() shim for janus (see lo_getifaddrs.c)
# ==========================================================================
SHIM_SOURCE = Path(__file__).resolve().parent / "lo_getifaddrs.c"
_shim_dir = None


def build_shim(source):
    """Compile an LD_PRELOAD shim (a C file next to this one) once per test process;
    return the .so path.  The .so lives in a private temp dir removed at exit."""
    global _shim_dir
    if _shim_dir is None:
        import atexit
        _shim_dir = tempfile.mkdtemp(prefix="jmedia-e2e-shim-")
        atexit.register(shutil.rmtree, _shim_dir, True)
    so = os.path.join(_shim_dir, Path(source).stem + ".so")
    if not os.path.exists(so):
        cc = shutil.which("cc") or shutil.which("gcc")
        if cc is None:
            raise HarnessError("a C compiler (cc) is needed to build %s" % source)
        r = subprocess.run([cc, "-shared", "-fPIC", "-O2", "-Wall", "-o", so,
                            str(source), "-ldl"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        if r.returncode != 0:
            raise HarnessError("building %s failed:\n%s"
                               % (source, r.stdout.decode(errors="replace")))
    return so


def loopback_shim_path():
    """lo_getifaddrs.c as a preloadable .so.

    Janus 1.1.2 never gathers on a loopback interface by itself (it skips
    IFF_LOOPBACK before applying ice_enforce_list, and libnice then falls
    back to every non-loopback address), so without this shim its candidates
    are on the LAN address.
    """
    return build_shim(SHIM_SOURCE)


def terminate(proc, timeout, what):
    """SIGTERM a process we started (by its pid), wait up to timeout, then SIGKILL it.
    Returns its exit code (negative: the signal that ended it)."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            sys.stderr.write("[harness] %s pid %d ignored SIGTERM for %.1f s, sending SIGKILL\n"
                             % (what, proc.pid, timeout))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    return proc.returncode


class JanusLogOnFailure:
    """TestCase mixin (list it before the TestCase class) for classes with a `janus`
    attribute: after a test that failed or errored, the tail of that Janus's log goes to
    stderr, where ctest --output-on-failure shows it."""

    janus_log_lines = 60

    def run(self, result=None):
        failures = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > failures \
                and getattr(self, "janus", None) is not None:
            sys.stderr.write("[%s] janus log tail:\n%s\n"
                             % (type(self).__name__, self.janus.log_tail(self.janus_log_lines)))
            sys.stderr.flush()
        return out


MEDIA_PLUGIN = "janus.plugin.media"


def require_media_plugin(janus):
    """janus (started) if it loaded libjanus_media.so; otherwise stops it, removes its files
    and fails."""
    if "libjanus_media.so" not in janus.config_info["plugins"]:
        janus.stop()
        janus.cleanup()
        raise AssertionError("libjanus_media.so not found in %s/plugins (set "
                             "JMEDIA_MODULES_DIR or build first)" % janus.modules_dir)
    return janus


def stop_janus(janus, log, what):
    """Stops janus (None: nothing to stop) and removes its files; log(text) says how it
    ended. Returns its exit code (None when there was none)."""
    if janus is None:
        return None
    code, took = janus.stop(10)
    log("janus (%s) stopped: code %s in %.2f s" % (what, code, took))
    janus.cleanup()
    return code


class PluginAdmin:
    """TestCase mixin for classes with a `janus` attribute: janus.plugin.media's admin
    requests (message_plugin), and the wait for the plugin to be empty after a test."""

    janus = None

    def admin(self, body):
        """The plugin's answer: the "response" object of Janus's
        {"janus":"success","transaction":T,"response":{...}} reply."""
        reply = self.janus.admin().message_plugin(MEDIA_PLUGIN, body)
        self.assertEqual(reply.get("janus"), "success",
                         "message_plugin %s: %r" % (json.dumps(body)[:200], reply))
        self.assertIsInstance(reply.get("response"), dict, repr(reply))
        return reply["response"]

    def wait_plugin_empty(self, timeout=10.0):
        """Waits (bounded) until the plugin holds no session and no device."""
        deadline = time.monotonic() + timeout
        left = None
        while time.monotonic() < deadline:
            left = (self.admin({"request": "list"}).get("sessions"),
                    self.admin({"request": "devices"}).get("devices"))
            if left == ([], []):
                return
            time.sleep(0.1)
        self.fail("left in the plugin after the test: sessions, devices = %r" % (left,))


# ==========================================================================
# RedisProcess
# ==========================================================================
REDIS_BIN = "/usr/bin/redis-server"


class RedisProcess:
    """A private redis-server (Debian's) on a free 127.0.0.1 port, no persistence: the cluster
    directory of janus.plugin.media (tests/e2e/test_cluster.py, scripts/cluster).
    start() polls PING (bounded); kill() is SIGKILL by pid, as a crash; start() again comes
    back on the same port, empty."""

    def __init__(self, port=None, password=None, log_path=None):
        self.port = port or free_port()
        self.password = password
        self.log_path = log_path or os.devnull
        self.proc = None

    @property
    def address(self):
        return "%s:%d" % (LOOPBACK, self.port)

    def ping(self, timeout=0.5):
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=timeout) as s:
                s.sendall(b"PING\r\n")
                reply = s.recv(64)
                return reply.startswith(b"+PONG") or reply.startswith(b"-NOAUTH")
        except OSError:
            return False

    def start(self, timeout=10.0):
        if self.proc is not None and self.proc.poll() is None:
            return self
        args = [REDIS_BIN, "--port", str(self.port), "--bind", LOOPBACK, "--save", "",
                "--appendonly", "no", "--logfile", self.log_path]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError("redis-server exited at start (code %s; port %d taken?)"
                                   % (self.proc.returncode, self.port))
            if self.ping():
                return self
            time.sleep(0.05)
        self.kill()
        raise HarnessError("redis-server on port %d did not answer PING within %.0f s"
                           % (self.port, timeout))

    def kill(self):
        """SIGKILL by pid (no goodbye to its clients), and reap it. Idempotent."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


# ==========================================================================
# JanusProcess
# ==========================================================================
class JanusProcess:
    """A private Janus instance.  Use as a context manager or start()/stop().

    Attributes once started: pid, http_port, ws_port, admin_port, http_url
    (http://127.0.0.1:P/janus), admin_url, ws_url (ws://127.0.0.1:P/),
    admin_secret, tmpdir, conf_dir, log_path, config_info (janus_conf summary).
    """

    def __init__(self, *, modules_dir=None, debug_level=4, admin_secret=None,
                 overrides=None, stock_plugins=janus_conf.DEFAULT_STOCK_PLUGINS,
                 rtp_port_range=None, events_broadcast=False, extra=None,
                 repo_conf_dir=janus_conf.DEFAULT_REPO_CONF_DIR,
                 start_timeout=20.0, start_attempts=3, keep_tmpdir=None,
                 janus_bin=JANUS_BIN, loopback_only=True, api_transport=None,
                 edge_settings=None, metrics_settings=None, plugin_access=None,
                 plugin_cluster=None):
        if modules_dir is None:
            modules_dir = os.environ.get("JMEDIA_MODULES_DIR",
                                         str(DEFAULT_MODULES_DIR))
        self.modules_dir = str(modules_dir)
        self.debug_level = debug_level
        self.admin_secret = admin_secret or ("adm-" + _transaction())
        self.overrides = dict(overrides or {})
        self.stock_plugins = tuple(stock_plugins)
        self.rtp_port_range = rtp_port_range
        self.events_broadcast = events_broadcast
        self.extra = extra
        self.repo_conf_dir = repo_conf_dir
        self.start_timeout = float(start_timeout)
        self.start_attempts = max(1, int(start_attempts))
        if keep_tmpdir is None:
            keep_tmpdir = os.environ.get("JMEDIA_KEEP_TMP") == "1"
        self.keep_tmpdir = keep_tmpdir
        self.janus_bin = janus_bin
        self.loopback_only = loopback_only
        # Who carries the Janus API: janus.transport.edge unless a test asks for the stock
        # transports (api_transport="stock", or JMEDIA_API_TRANSPORT=stock for a whole run).
        self.api_transport = api_transport or os.environ.get("JMEDIA_API_TRANSPORT", "edge")
        self.edge_settings = edge_settings
        # janus.plugin.media's access section, e.g. {"mode": "token", "jwt_secret": S}
        self.plugin_access = plugin_access
        # janus.plugin.media's cluster section, e.g. {"redis": "127.0.0.1:P", "node_id": "a",
        # "secret": S}
        self.plugin_cluster = plugin_cluster
        # more general.* settings of janus.transport.prometheus (its port is chosen here)
        self.metrics_settings = dict(metrics_settings or {})
        self.proc = None
        self.tmpdir = None
        self.conf_dir = None
        self.log_path = None
        self.config_info = None
        self.http_port = self.ws_port = self.admin_port = self.metrics_port = None
        self.returncode = None
        self.server_info = None
        self._log_file = None

    # -- urls ---------------------------------------------------------------
    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def http_url(self):
        return "http://%s:%d/janus" % (LOOPBACK, self.http_port)

    @property
    def admin_url(self):
        return "http://%s:%d/admin" % (LOOPBACK, self.admin_port)

    @property
    def metrics_url(self):
        """Base URL of janus.transport.prometheus (when built and loaded)."""
        return "http://%s:%d" % (LOOPBACK, self.metrics_port)

    @property
    def ws_url(self):
        return "ws://%s:%d/" % (LOOPBACK, self.ws_port)

    # -- lifecycle ----------------------------------------------------------
    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and self.log_path:
            sys.stderr.write("\n--- janus log tail (%s) ---\n%s\n"
                             % (self.log_path, self.log_tail()))
        self.stop()
        self.cleanup()
        return False

    def start(self):
        if self.proc is not None:
            raise HarnessError("JanusProcess already started")
        self.tmpdir = tempfile.mkdtemp(prefix="jmedia-e2e-")
        last_error = None
        for attempt in range(1, self.start_attempts + 1):
            try:
                self._start_once(attempt)
                return self
            except _PortClash as e:
                last_error = e
                sys.stderr.write("[harness] janus start attempt %d: %s; "
                                 "retrying on fresh ports\n" % (attempt, e))
                self._kill_now()
            except BaseException:
                self._kill_now()
                self._failed_start_cleanup()
                raise
        tail = self.log_tail()
        self._kill_now()
        self._failed_start_cleanup()
        raise HarnessError("janus did not start after %d attempts: %s\n%s"
                           % (self.start_attempts, last_error, tail))

    def _failed_start_cleanup(self):
        if self.tmpdir and not self.keep_tmpdir:
            # the log tail is already part of the exception message
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def _start_once(self, attempt):
        # The metrics transport gets a free port too, so that tests never collide with
        # each other or with a `scripts/run` on the default port.
        self.http_port, self.ws_port, self.admin_port, self.metrics_port = free_ports(4)
        self.conf_dir = os.path.join(self.tmpdir, "conf%d" % attempt)
        self.log_path = os.path.join(self.tmpdir, "janus%d.log" % attempt)
        self.config_info = janus_conf.write_config(
            self.conf_dir, http_port=self.http_port, ws_port=self.ws_port,
            admin_port=self.admin_port, admin_secret=self.admin_secret,
            modules_dir=self.modules_dir, debug_level=self.debug_level,
            rtp_port_range=self.rtp_port_range,
            events_broadcast=self.events_broadcast,
            stock_plugins=self.stock_plugins, repo_conf_dir=self.repo_conf_dir,
            overrides=self.overrides, extra=self.extra,
            metrics_port=self.metrics_port, api_transport=self.api_transport,
            edge_settings=self.edge_settings, metrics_settings=self.metrics_settings,
            plugin_access=self.plugin_access, plugin_cluster=self.plugin_cluster)
        env = dict(os.environ)
        if self.loopback_only:
            env["LD_PRELOAD"] = loopback_shim_path()
        self._log_file = open(self.log_path, "wb")
        self.returncode = None
        self.proc = subprocess.Popen(
            [self.janus_bin, "-F", self.conf_dir, "-o"],
            stdin=subprocess.DEVNULL, stdout=self._log_file,
            stderr=subprocess.STDOUT, cwd=self.tmpdir, env=env,
            start_new_session=True)
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + self.start_timeout
        info_ok = ws_ok = admin_ok = False
        last = "no attempt yet"
        for _ in range(int(self.start_timeout / 0.05) + 10):
            if time.monotonic() > deadline:
                break
            rc = self.proc.poll()
            if rc is not None:
                self.returncode = rc
                if self._log_has_port_clash():
                    raise _PortClash("janus exited (%d) after a port clash" % rc)
                raise HarnessError("janus exited early with code %d\n%s"
                                   % (rc, self.log_tail()))
            if self._log_has_port_clash():
                raise _PortClash("janus could not bind a port")
            if not info_ok:
                try:
                    reply = _http_json("GET", self.http_url + "/info", timeout=1.0)
                    if reply.get("janus") != "server_info":
                        raise HarnessError("unexpected /info reply: %r" % reply)
                    info_ok = True
                    self.server_info = reply
                except (OSError, ValueError, urllib.error.URLError) as e:
                    last = "info: %s" % e
            if info_ok and not ws_ok:
                ws_ok = _tcp_accepts(LOOPBACK, self.ws_port)
                last = "ws port %d not accepting" % self.ws_port
            if info_ok and ws_ok and not admin_ok:
                # The edge answers /info before the stock HTTP transport (loaded after it)
                # has bound the Admin API's port.
                admin_ok = _tcp_accepts(LOOPBACK, self.admin_port)
                last = "admin port %d not accepting" % self.admin_port
            if info_ok and ws_ok and admin_ok:
                for port in (self.http_port, self.ws_port, self.admin_port):
                    if not port_owned_by(self.proc.pid, port):
                        raise _PortClash("port %d is held by another process"
                                         % port)
                return
            time.sleep(0.05)
        raise HarnessError("janus not ready after %.0f s (%s)\n%s"
                           % (self.start_timeout, last, self.log_tail()))

    def _log_has_port_clash(self):
        text = self.log_text()
        return any(m in text for m in _PORT_CLASH_MARKERS)

    def _kill_now(self):
        """SIGKILL our own pid (failed start); leaves self.proc = None."""
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.kill(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
            self.returncode = self.proc.returncode
            self.proc = None
        self._close_log()

    def _close_log(self):
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def rss_bytes(self):
        """Resident set size of the janus process (VmRSS), in bytes."""
        if not self.alive():
            raise HarnessError("janus is not running")
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise HarnessError("no VmRSS for pid %d" % self.proc.pid)

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def stop(self, timeout=10.0):
        """SIGTERM our pid, wait up to timeout, then SIGKILL.

        Returns (exit code, seconds taken).  The exit code is negative
        (-9) if SIGKILL was needed.  Idempotent.
        """
        if self.proc is None:
            return (self.returncode, 0.0)
        t0 = time.monotonic()
        self.returncode = terminate(self.proc, timeout, "janus")
        took = time.monotonic() - t0
        self._close_log()
        return (self.returncode, took)

    def cleanup(self):
        """Remove the temp dir (kept if JMEDIA_KEEP_TMP=1)."""
        if self.alive():
            self.stop()
        if self.tmpdir and not self.keep_tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        elif self.tmpdir:
            sys.stderr.write("[harness] kept %s\n" % self.tmpdir)

    # -- logs ---------------------------------------------------------------
    def log_text(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_tail(self, lines=60):
        return "\n".join(self.log_text().splitlines()[-lines:])

    # -- convenience --------------------------------------------------------
    def admin(self):
        return AdminClient(self.admin_url, self.admin_secret)

    def http(self):
        return HttpClient(self.http_url)


class _PortClash(HarnessError):
    pass


# ==========================================================================
# sync HTTP helpers
# ==========================================================================
def _http_json(method, url, body=None, timeout=10.0):
    host = urllib.request.urlparse(url).hostname
    if not host or not host.startswith("127."):
        raise HarnessError("refusing non-loopback url %s" % url)
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    # no proxies: loopback only
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=timeout) as resp:
        return json.loads(resp.read().decode())


class AdminClient:
    """Sync client for the Admin API (POST /admin[/session[/handle]])."""

    def __init__(self, admin_url, admin_secret, timeout=10.0):
        self.url = admin_url.rstrip("/")
        self.secret = admin_secret
        self.timeout = timeout

    def request(self, janus, session_id=None, handle_id=None, **fields):
        """Raw request; returns the reply dict (errors are not raised)."""
        url = self.url
        if session_id is not None:
            url += "/%d" % session_id
            if handle_id is not None:
                url += "/%d" % handle_id
        body = {"janus": janus, "transaction": _transaction(),
                "admin_secret": self.secret}
        body.update(fields)
        return _http_json("POST", url, body, self.timeout)

    def _checked(self, reply):
        if reply.get("janus") == "error":
            raise JanusError(reply)
        return reply

    def info(self):
        return _http_json("GET", self.url + "/info", timeout=self.timeout)

    def list_sessions(self):
        return self._checked(self.request("list_sessions"))["sessions"]

    def list_handles(self, session_id):
        return self._checked(self.request("list_handles", session_id))["handles"]

    def handle_info(self, session_id, handle_id):
        return self._checked(
            self.request("handle_info", session_id, handle_id))["info"]

    def message_plugin(self, plugin, request):
        """Returns the full reply; the plugin's answer is reply['response']."""
        return self.request("message_plugin", plugin=plugin, request=request)

    def hangup_webrtc(self, session_id, handle_id):
        return self.request("hangup_webrtc", session_id, handle_id)


class HttpClient:
    """Sync client for the Janus API over plain HTTP (long polling)."""

    def __init__(self, http_url, timeout=10.0):
        self.url = http_url.rstrip("/")
        self.timeout = timeout
        self.pending_events = collections.defaultdict(list)  # session -> []

    def request(self, body, session_id=None, handle_id=None, timeout=None):
        url = self.url
        if session_id is not None:
            url += "/%d" % session_id
            if handle_id is not None:
                url += "/%d" % handle_id
        body = dict(body)
        body.setdefault("transaction", _transaction())
        return _http_json("POST", url, body, timeout or self.timeout)

    def info(self):
        return _http_json("GET", self.url + "/info", timeout=self.timeout)

    def create(self):
        r = self.request({"janus": "create"})
        if r.get("janus") != "success":
            raise JanusError(r)
        return r["data"]["id"]

    def attach(self, session_id, plugin):
        r = self.request({"janus": "attach", "plugin": plugin}, session_id)
        if r.get("janus") != "success":
            raise JanusError(r)
        return r["data"]["id"]

    def poll(self, session_id, maxev=10, timeout=None):
        """One long poll; returns a list of events (may be empty)."""
        t = timeout or self.timeout
        try:
            r = _http_json("GET", "%s/%d?maxev=%d" % (self.url, session_id,
                                                       maxev), timeout=t)
        except socket.timeout:
            return []
        except urllib.error.URLError as e:
            if isinstance(e.reason, socket.timeout):
                return []
            raise
        events = r if isinstance(r, list) else [r]
        return [e for e in events if e.get("janus") != "keepalive"]

    def message(self, session_id, handle_id, body, jsep=None, timeout=None):
        """Send a plugin message; return the sync reply (success/error) or,
        after an ack, the event carrying the same transaction."""
        timeout = timeout or self.timeout
        tx = _transaction()
        req = {"janus": "message", "body": body, "transaction": tx}
        if jsep is not None:
            req["jsep"] = jsep
        r = self.request(req, session_id, handle_id, timeout)
        if r.get("janus") != "ack":
            return r
        return self.wait_transaction(session_id, tx, timeout)

    def wait_transaction(self, session_id, tx, timeout):
        deadline = time.monotonic() + timeout
        for ev in list(self.pending_events[session_id]):
            if ev.get("transaction") == tx:
                self.pending_events[session_id].remove(ev)
                return ev
        for _ in range(1000):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for ev in self.poll(session_id, timeout=max(0.1, left)):
                if ev.get("transaction") == tx:
                    return ev
                self.pending_events[session_id].append(ev)
        raise TimeoutError("no event for transaction %s within %.1f s"
                           % (tx, timeout))

    def wait_event(self, session_id, predicate, timeout=None):
        """Return (and remove) the first event matching predicate."""
        timeout = timeout or self.timeout
        deadline = time.monotonic() + timeout
        for _ in range(1000):
            for ev in list(self.pending_events[session_id]):
                if predicate(ev):
                    self.pending_events[session_id].remove(ev)
                    return ev
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.pending_events[session_id].extend(
                self.poll(session_id, timeout=max(0.1, left)))
        raise TimeoutError("no matching event within %.1f s" % timeout)

    def trickle(self, session_id, handle_id, candidate):
        req = {"janus": "trickle"}
        if candidate is None:
            req["candidate"] = {"completed": True}
        elif isinstance(candidate, list):
            req["candidates"] = candidate
        else:
            req["candidate"] = candidate
        return self.request(req, session_id, handle_id)

    def hangup(self, session_id, handle_id):
        return self.request({"janus": "hangup"}, session_id, handle_id)

    def keepalive(self, session_id):
        return self.request({"janus": "keepalive"}, session_id)

    def detach(self, session_id, handle_id):
        return self.request({"janus": "detach"}, session_id, handle_id)

    def destroy(self, session_id):
        self.pending_events.pop(session_id, None)
        return self.request({"janus": "destroy"}, session_id)


# ==========================================================================
# asyncio WebSocket client
# ==========================================================================
class JanusConnectionClosed(ConnectionError):
    pass


class JanusWsClient:
    """Janus API over websockets (subprotocol janus-protocol), one session.

    Usage:
        async with JanusWsClient(url) as c:
            await c.create_session()
            h = await c.attach("janus.plugin.echotest")
            reply = await c.message(h, {...}, jsep={...})
            ev = await c.wait_event(h, "webrtcup", timeout=10)
    """

    ACK_FINAL = ("keepalive", "trickle")
    MAX_MESSAGES = 1000000

    def __init__(self, url, *, keepalive_interval=15.0, timeout=10.0):
        if not url.startswith("ws://127."):
            raise HarnessError("refusing non-loopback url %s" % url)
        self.url = url
        self.keepalive_interval = keepalive_interval
        self.timeout = timeout
        self.ws = None
        self.session_id = None
        self.handles = set()
        self.events = collections.defaultdict(list)  # handle id / None -> []
        self.history = []                            # every message received
        self.closed = asyncio.Event()
        self.close_code = None
        self._pending = {}                           # tx -> (future, kind)
        self._cond = None
        self._reader = None
        self._ka_task = None

    async def __aenter__(self):
        return await self.connect()

    async def __aexit__(self, *exc):
        await self.close()
        return False

    async def connect(self):
        import websockets
        self._cond = asyncio.Condition()
        self.ws = await asyncio.wait_for(
            websockets.connect(self.url, subprotocols=["janus-protocol"],
                               compression=None, max_size=16 * 1024 * 1024,
                               ping_interval=None, open_timeout=self.timeout),
            self.timeout)
        self._reader = asyncio.ensure_future(self._read_loop())
        return self

    # -- plumbing -----------------------------------------------------------
    async def _read_loop(self):
        try:
            count = 0
            async for raw in self.ws:
                count += 1
                if count > self.MAX_MESSAGES:
                    break
                try:
                    msg = json.loads(raw)
                except ValueError:
                    continue
                await self._dispatch(msg)
        except Exception:   # connection closed / reset
            pass
        finally:
            self.close_code = getattr(self.ws, "close_code", None)
            self.closed.set()
            for fut, _kind in self._pending.values():
                if not fut.done():
                    fut.set_exception(JanusConnectionClosed(
                        "websocket closed (code %s)" % self.close_code))
            self._pending.clear()
            if self._cond is not None:
                async with self._cond:
                    self._cond.notify_all()

    async def _dispatch(self, msg):
        self.history.append(msg)
        kind_janus = msg.get("janus")
        tx = msg.get("transaction")
        pend = self._pending.get(tx) if tx else None
        if pend is not None:
            fut, kind = pend
            if kind_janus == "ack" and kind not in self.ACK_FINAL:
                return            # wait for the event with this transaction
            del self._pending[tx]
            if not fut.done():
                fut.set_result(msg)
            return
        if kind_janus == "ack":
            return                # late ack (event came first)
        async with self._cond:
            self.events[msg.get("sender")].append(msg)
            self._cond.notify_all()

    async def request(self, body, timeout=None):
        """Send a Janus API request (session_id added); wait for the final
        reply: success/error, or the event with the same transaction for
        plugin messages, or the ack for keepalive/trickle."""
        if self.closed.is_set():
            raise JanusConnectionClosed("websocket closed")
        body = dict(body)
        tx = _transaction()
        body["transaction"] = tx
        if self.session_id is not None and "session_id" not in body \
                and body.get("janus") != "create":
            body["session_id"] = self.session_id
        fut = asyncio.get_running_loop().create_future()
        self._pending[tx] = (fut, body.get("janus"))
        try:
            try:
                await self.ws.send(json.dumps(body))
            except Exception as e:   # websockets.ConnectionClosed & co
                raise JanusConnectionClosed("websocket send failed: %r" % e)
            return await asyncio.wait_for(fut, timeout or self.timeout)
        finally:
            self._pending.pop(tx, None)

    async def _keepalive_loop(self):
        for _ in range(100000):
            await asyncio.sleep(self.keepalive_interval)
            if self.closed.is_set() or self.session_id is None:
                return
            try:
                await self.request({"janus": "keepalive"})
            except (JanusConnectionClosed, asyncio.TimeoutError):
                return
            except Exception:
                return

    # -- API ----------------------------------------------------------------
    async def create_session(self):
        r = await self.request({"janus": "create"})
        if r.get("janus") != "success":
            raise JanusError(r)
        self.session_id = r["data"]["id"]
        self._ka_task = asyncio.ensure_future(self._keepalive_loop())
        return self.session_id

    async def attach(self, plugin, opaque_id=None):
        body = {"janus": "attach", "plugin": plugin}
        if opaque_id:
            body["opaque_id"] = opaque_id
        r = await self.request(body)
        if r.get("janus") != "success":
            raise JanusError(r)
        hid = r["data"]["id"]
        self.handles.add(hid)
        return hid

    async def message(self, handle_id, body, jsep=None, timeout=None):
        req = {"janus": "message", "handle_id": handle_id, "body": body}
        if jsep is not None:
            req["jsep"] = jsep
        return await self.request(req, timeout)

    async def trickle(self, handle_id, candidate):
        """candidate: dict, list of dicts, or None for 'completed'."""
        req = {"janus": "trickle", "handle_id": handle_id}
        if candidate is None:
            req["candidate"] = {"completed": True}
        elif isinstance(candidate, list):
            req["candidates"] = candidate
        else:
            req["candidate"] = candidate
        return await self.request(req)

    async def hangup(self, handle_id, timeout=None):
        """Core-level {"janus":"hangup"} on a handle."""
        return await self.request({"janus": "hangup", "handle_id": handle_id},
                                  timeout)

    async def detach(self, handle_id, timeout=None):
        r = await self.request({"janus": "detach", "handle_id": handle_id},
                               timeout)
        self.handles.discard(handle_id)
        return r

    async def destroy(self, timeout=None):
        r = await self.request({"janus": "destroy"}, timeout)
        self.session_id = None
        await self._stop_keepalive()
        return r

    async def wait_event(self, handle_id, match, timeout=None):
        """Return (and remove) the first queued/arriving event for handle_id
        (None: session-level events) matching match: a "janus" string such
        as "webrtcup", or a predicate(msg) -> bool.  TimeoutError when none
        arrives in time, JanusConnectionClosed when the socket closes."""
        pred = (lambda m: m.get("janus") == match) if isinstance(match, str) \
            else match
        found = []

        def check():
            q = self.events[handle_id]
            for i, m in enumerate(q):
                if pred(m):
                    found.append(q.pop(i))
                    return True
            return self.closed.is_set()

        async with self._cond:
            await asyncio.wait_for(self._cond.wait_for(check),
                                   timeout or self.timeout)
        if found:
            return found[0]
        raise JanusConnectionClosed("websocket closed (code %s) while waiting"
                                    % self.close_code)

    def queued_events(self, handle_id):
        return list(self.events[handle_id])

    async def _stop_keepalive(self):
        if self._ka_task is not None:
            self._ka_task.cancel()
            try:
                await self._ka_task
            except (asyncio.CancelledError, Exception):
                pass
            self._ka_task = None

    async def close(self):
        await self._stop_keepalive()
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 5)
            except Exception:
                pass
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 5)
            except Exception:
                self._reader.cancel()
            self._reader = None


# ==========================================================================
# aiortc / aioice: loopback only
# ==========================================================================
_ICE_PATCHED = False


def restrict_ice_to_loopback():
    """Make aioice (Debian 0.8) gather host candidates on 127.0.0.1 only.

    aioice.ice.Connection.gather_candidates() calls the module global
    aioice.ice.get_host_addresses(), which enumerates all interfaces with
    netifaces and *excludes* 127.0.0.1; we replace it.  We also make any
    STUN/TURN server configuration and any mDNS use a hard error, so nothing
    can leave 127.0.0.0/8.  Idempotent.
    """
    global _ICE_PATCHED
    if _ICE_PATCHED:
        return
    import aioice.ice

    def loopback_host_addresses(use_ipv4=True, use_ipv6=True):
        return [LOOPBACK] if use_ipv4 else []

    aioice.ice.get_host_addresses = loopback_host_addresses

    orig_init = aioice.ice.Connection.__init__

    def guarded_init(self, *args, **kwargs):
        if kwargs.get("stun_server") or kwargs.get("turn_server"):
            raise HarnessError("STUN/TURN configured: tests must stay on "
                               "loopback (use RTCConfiguration(iceServers=[]))")
        orig_init(self, *args, **kwargs)

    aioice.ice.Connection.__init__ = guarded_init

    async def no_mdns(*_a, **_k):
        raise HarnessError("mDNS is disabled in the e2e tests")

    aioice.ice.get_or_create_mdns_protocol = no_mdns
    _ICE_PATCHED = True


def new_peer_connection():
    """RTCPeerConnection with no ICE servers, loopback host candidates only."""
    restrict_ice_to_loopback()
    from aiortc import RTCConfiguration, RTCPeerConnection
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


def sdp_candidate_addresses(sdp):
    """[(address, type)] of every a=candidate line in an SDP."""
    out = []
    for line in sdp.splitlines():
        line = line.strip()
        if line.startswith("a=candidate:"):
            f = line.split()
            # foundation component transport priority address port typ type
            out.append((f[4], f[7] if len(f) > 7 else "?"))
    return out


async def wait_ice_gathering_complete(pc, timeout=10.0):
    """Wait until pc.iceGatheringState == 'complete' (bounded)."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.02) + 10):
        if pc.iceGatheringState == "complete":
            return
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.02)
    raise TimeoutError("ICE gathering not complete after %.1f s" % timeout)


async def sendrecv_offer(pc, timeout=10.0):
    """pc's offer of audio and video (sendrecv), its candidates gathered (bounded): the SDP."""
    pc.addTransceiver("audio", direction="sendrecv")
    pc.addTransceiver("video", direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    await wait_ice_gathering_complete(pc, timeout)
    return pc.localDescription.sdp
