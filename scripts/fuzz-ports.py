#!/usr/bin/env python3
"""Fuzz every port of a running vigild from outside the process, and check that it holds up.

Starts its own vigild (temporary configuration, every listener on port 0, a data_dir in the
temporary directory), then for --minutes runs --workers attacker threads that throw malformed,
hostile and merely odd traffic at the device (ingest), control, HTTP and feed ports, while one
well-behaved "bystander" device streams a SampleBatch every 200 ms on the ingest port.

Three checks decide the exit status (0: all hold, 1: one failed, 2: could not run):
  1. no crash:   vigild is alive at the end, answers GET /healthz with 200, and exits 0 on SIGTERM;
  2. RSS flat:   after the warm-up (first 20% of the run) VmRSS stays within a bound of the
                 warm-up's maximum (--rss-growth-pct or --rss-growth-mib, whichever is larger);
  3. bystander:  every batch of the bystander is covered by an Ack within --ack-timeout seconds,
                 and its connection is never closed except with a documented reason to reconnect.

Standard library only; protobuf is encoded and decoded by hand. See docs/fuzzing.md.
Usage: python3 scripts/fuzz-ports.py --minutes 10 [--seed N] [--workers N] [--keep]
"""

from __future__ import annotations

import argparse
import base64
import collections
import datetime
import json
import math
import os
import random
import re
import secrets
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MASK64 = (1 << 64) - 1
LOOPBACK = "127.0.0.1"

# ---------------------------------------------------------------------------------------------
# Protobuf by hand
# ---------------------------------------------------------------------------------------------


class Incomplete(Exception):
    """More bytes are needed."""


def uvarint(n: int) -> bytes:
    n &= MASK64  # negative int32/int64 values are written as their 64-bit two's complement
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def get_uvarint(buf, pos: int = 0):
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise Incomplete()
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result & MASK64, pos
        shift += 7
        if shift >= 70:
            raise ValueError("varint longer than 10 bytes")


def key(field: int, wire: int) -> bytes:
    return uvarint((field << 3) | wire)


def f_varint(field: int, value: int) -> bytes:
    return key(field, 0) + uvarint(value)


def f_bytes(field: int, value) -> bytes:
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogatepass")
    return key(field, 2) + uvarint(len(value)) + bytes(value)


def f_double(field: int, value: float) -> bytes:
    return key(field, 1) + struct.pack("<d", value)


def f_raw_double(field: int, bits: int) -> bytes:
    return key(field, 1) + struct.pack("<Q", bits & MASK64)


def delimited(payload: bytes) -> bytes:
    return uvarint(len(payload)) + payload


def parse_fields(buf) -> dict:
    """{field: [values]}: ints for varints, bytes for the other wire types. Raises ValueError."""
    out: dict = {}
    pos = 0
    n = len(buf)
    while pos < n:
        try:
            k, pos = get_uvarint(buf, pos)
            field, wire = k >> 3, k & 7
            if wire == 0:
                v, pos = get_uvarint(buf, pos)
            elif wire == 1:
                v = bytes(buf[pos:pos + 8])
                pos += 8
            elif wire == 2:
                ln, pos = get_uvarint(buf, pos)
                v = bytes(buf[pos:pos + ln])
                pos += ln
            elif wire == 5:
                v = bytes(buf[pos:pos + 4])
                pos += 4
            else:
                raise ValueError(f"wire type {wire}")
        except Incomplete:
            raise ValueError("truncated field") from None
        if pos > n:
            raise ValueError("truncated field")
        out.setdefault(field, []).append(v)
    return out


def first(d: dict, field: int, default=None):
    v = d.get(field)
    return v[0] if v else default


class FrameReader:
    """Incremental reader of varint length-delimited frames."""

    def __init__(self, max_len: int = 16 << 20):
        self.buf = bytearray()
        self.max_len = max_len

    def feed(self, data: bytes) -> list:
        self.buf += data
        out = []
        while self.buf:
            try:
                n, p = get_uvarint(self.buf, 0)
            except Incomplete:
                break
            if n > self.max_len:
                raise ValueError(f"frame of {n} bytes")
            if len(self.buf) - p < n:
                break
            out.append(bytes(self.buf[p:p + n]))
            del self.buf[:p + n]
        return out


# --- vigil.v1 device protocol (device.proto) ---

DEVICE_ERRORS = {
    0: "UNSPECIFIED", 1: "MALFORMED_VARINT", 2: "FRAME_TOO_LARGE", 3: "EMPTY_FRAME",
    4: "UNPARSABLE_MESSAGE", 5: "PROTOCOL_VIOLATION", 6: "HANDSHAKE_TIMEOUT",
    7: "UNSUPPORTED_VERSION", 8: "UNKNOWN_DEVICE", 9: "BAD_TOKEN", 10: "BAD_CHAIR",
    11: "IDLE_TIMEOUT", 12: "TOO_MANY_CONNECTIONS", 13: "DEVICE_RECONNECTED", 14: "SHUTTING_DOWN",
    15: "BAD_SEQUENCE", 16: "SAMPLE_REJECTED", 17: "INTERNAL", 18: "STORAGE_UNAVAILABLE",
    19: "SEQUENCE_RESET",
}
# Fatal codes after which docs/protocol.md section 11 tells a device to reconnect. A well-behaved
# device closed with one of these may reconnect; anything else is a failure of the bystander check.
RECONNECT_OK = {"HANDSHAKE_TIMEOUT", "IDLE_TIMEOUT", "TOO_MANY_CONNECTIONS", "DEVICE_RECONNECTED",
                "SHUTTING_DOWN", "INTERNAL", "STORAGE_UNAVAILABLE"}

CONTROL_ERRORS = {
    0: "NONE", 1: "UNPARSABLE", 2: "UNAUTHORIZED", 3: "NO_COMMAND", 4: "INVALID_ARGUMENT",
    5: "UNKNOWN_PROFILE", 6: "NO_OPEN_SESSION", 7: "SESSION_ALREADY_OPEN", 8: "WRONG_PHASE",
    9: "PREDOSE_GATE", 10: "UNKNOWN_ALARM", 11: "SHUTTING_DOWN", 12: "TOO_MANY_CONNECTIONS",
    13: "IDLE_TIMEOUT", 14: "FORBIDDEN", 15: "NOT_SAVED", 16: "UNKNOWN_DEVICE",
}

FEED_ERRORS = {
    0: "UNSPECIFIED", 1: "UNPARSABLE", 2: "UNAUTHORIZED", 3: "BAD_REQUEST", 4: "HANDSHAKE_TIMEOUT",
    5: "TOO_SLOW", 6: "RESUME_TOO_OLD", 7: "SHUTTING_DOWN", 8: "TOO_MANY_CONNECTIONS",
}


def m_hello(device_id, token, version=1, chair="", software="") -> bytes:
    body = b""
    if device_id:
        body += f_bytes(1, device_id)
    if token:
        body += f_bytes(2, token)
    if version:
        body += f_varint(3, version)
    if chair:
        body += f_bytes(4, chair)
    if software:
        body += f_bytes(5, software)
    return f_bytes(1, body)


def m_sample(kind, value, time_ms, quality=0, raw_bits=None) -> bytes:
    out = f_varint(1, kind) if kind else b""
    out += f_raw_double(2, raw_bits) if raw_bits is not None else f_double(2, value)
    if time_ms:
        out += f_varint(3, time_ms)
    if quality:
        out += f_varint(4, quality)
    return out


def m_batch(seq, samples) -> bytes:
    body = f_varint(1, seq) if seq else b""
    for s in samples:
        body += f_bytes(2, s)
    return f_bytes(2, body)


def m_ping(nonce) -> bytes:
    return f_bytes(3, f_varint(1, nonce) if nonce else b"")


def decode_daemon(payload: bytes):
    """DaemonMessage -> (kind, dict) with kind welcome/ack/error/pong/unknown."""
    d = parse_fields(payload)
    for field, name in ((1, "welcome"), (2, "ack"), (3, "error"), (4, "pong")):
        if field in d:
            return name, parse_fields(d[field][-1])
    return "unknown", d


# --- control.proto ---

CMD_OPEN, CMD_OVERRIDE, CMD_DOSE, CMD_ACK, CMD_PAUSE, CMD_CLOSE, CMD_LIST, CMD_NOTE, CMD_RESET = range(10, 19)
# CMD_RESET (ResetDevice) is newer than some daemons, which answer it with NO_COMMAND.


def m_control(request_id, token, command=None, body=b"", extra=b"") -> bytes:
    out = f_varint(1, request_id) if request_id else b""
    if token:
        out += f_bytes(2, token)
    if command is not None:
        out += f_bytes(command, body)
    return out + extra


# --- feed.proto ---


def m_subscribe(chairs=(), sessions=(), categories=(), vitals_ms=0, resume_after=None,
                heartbeat_ms=0) -> bytes:
    out = b""
    for c in chairs:
        out += f_bytes(1, c)
    for s in sessions:
        out += f_varint(2, s)
    for c in categories:
        out += f_varint(3, c)
    if vitals_ms:
        out += f_varint(4, vitals_ms)
    if resume_after is not None:
        out += f_varint(5, resume_after)  # proto3 optional: written even when 0
    if heartbeat_ms:
        out += f_varint(6, heartbeat_ms)
    return out


def m_feed_request(token, subscribe: bytes | None) -> bytes:
    out = f_bytes(1, token) if token else b""
    if subscribe is not None:
        out += f_bytes(2, subscribe)
    return out


# ---------------------------------------------------------------------------------------------
# Sockets
# ---------------------------------------------------------------------------------------------


def close_quietly(sock):
    try:
        sock.close()
    except OSError:
        pass


def hard_reset(sock):
    """Close with a TCP reset (SO_LINGER 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    close_quietly(sock)


def recv_some(sock, deadline, stop=None, max_bytes=4 << 20):
    """Reads until the deadline, end of stream, max_bytes, or stop(data) is true.
    Returns (data, eof): eof is True when the peer closed or reset the connection."""
    data = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(data), False
        try:
            sock.settimeout(left)
            chunk = sock.recv(65536)
        except (TimeoutError, socket.timeout):
            return bytes(data), False
        except OSError:
            return bytes(data), True
        if not chunk:
            return bytes(data), True
        data += chunk
        if len(data) >= max_bytes or (stop is not None and stop(data)):
            return bytes(data), False


def parse_http_responses(data: bytes):
    """Complete HTTP responses at the start of data: [(status, headers, body)]."""
    out = []
    pos = 0
    while True:
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            return out
        head = data[pos:end].decode("latin-1", "replace").split("\r\n")
        m = re.match(r"HTTP/\d\.\d (\d{3})", head[0])
        if not m:
            return out
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        cl = headers.get("content-length", "0")
        length = int(cl) if cl.isdigit() else 0
        if int(m.group(1)) == 101:
            out.append((101, headers, b""))
            return out
        if len(data) < end + 4 + length:
            return out
        out.append((int(m.group(1)), headers, data[end + 4:end + 4 + length]))
        pos = end + 4 + length


def http_get(port, path, timeout=3.0):
    """A plain GET on a fresh connection: (status or None, body)."""
    try:
        s = socket.create_connection((LOOPBACK, port), timeout=timeout)
    except OSError as e:
        return None, str(e).encode()
    try:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data, _ = recv_some(s, time.monotonic() + timeout,
                            stop=lambda d: len(parse_http_responses(bytes(d))) > 0)
        resp = parse_http_responses(data)
        if resp:
            return resp[0][0], resp[0][2]
        return None, data[:200]
    except OSError as e:
        return None, str(e).encode()
    finally:
        close_quietly(s)


# ---------------------------------------------------------------------------------------------
# The daemon
# ---------------------------------------------------------------------------------------------


def token(n=32) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(n))


def yq(s: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML for ASCII)."""
    return json.dumps(s)


class Daemon:
    def __init__(self, binary: Path, tmp: Path, log_max_bytes: int):
        self.tmp = tmp
        self.log_path = tmp / "vigild.log"
        self.log_max_bytes = log_max_bytes
        self.rotations = 0
        self.bin = tmp / "vigild"
        # Run a copy, so that a rebuild of the build tree cannot trip over the running binary.
        shutil.copy2(binary, self.bin)
        self.binary = binary
        self.ports: dict = {}
        self.proc: subprocess.Popen | None = None
        self.exit_code = None
        self.device_token = token()
        self.fuzz_device_token = token()
        self.users = {"admin": token(), "nurse": token(), "viewer": token()}
        self.bystander = ("bystander-monitor", "bystander-chair")
        profiles = REPO / "config" / "profiles"
        self.profiles_dir = profiles if profiles.is_dir() else None
        self.profiles = sorted(p.stem for p in profiles.glob("*.yaml")) if self.profiles_dir else []
        if "generic" not in self.profiles:
            self.profiles.append("generic")

    def write_config(self) -> Path:
        dev, chair = self.bystander
        lines = [
            "# written by scripts/fuzz-ports.py",
            f"ports_file: {yq(str(self.tmp / 'vigild.ports'))}",
            f"data_dir: {yq(str(self.tmp / 'data'))}",
            "log:",
            "  level: warn",
            "ingest:",
            "  address: 127.0.0.1",
            "  port: 0",
            "  devices:",
            f"    - id: {yq(dev)}",
            f"      token: {yq(self.device_token)}",
            f"      chair: {yq(chair)}",
            f"    - id: {yq('fuzz-*')}",
            f"      token: {yq(self.fuzz_device_token)}",
            "control:",
            "  address: 127.0.0.1",
            "  port: 0",
            "feed:",
            "  address: 127.0.0.1",
            "  port: 0",
            # A small in-memory history fills up during the warm-up, so that it does not pass for
            # RSS growth; resumes further back are then served from the timeline (exercised too).
            "  history_events: 2048",
            "http:",
            "  address: 127.0.0.1",
            "  port: 0",
            "users:",
        ]
        for role, tok in self.users.items():
            lines += [f"  - name: {yq('fuzz-' + role)}", f"    token: {yq(tok)}", f"    role: {role}"]
        lines += ["engine:"]
        if self.profiles_dir:
            lines += [f"  profiles_dir: {yq(str(self.profiles_dir))}"]
        lines += ["  default_profile: generic", ""]
        path = self.tmp / "vigild.yaml"
        path.write_text("\n".join(lines))
        path.chmod(0o600)
        return path

    def start(self, timeout=20.0):
        cfg = self.write_config()
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            # Its own session: a Ctrl-C in the terminal reaches this script, which stops vigild.
            self.proc = subprocess.Popen([str(self.bin), "-c", str(cfg)], stdin=subprocess.DEVNULL,
                                         stdout=fd, stderr=fd, start_new_session=True)
        finally:
            os.close(fd)
        ports_file = self.tmp / "vigild.ports"
        deadline = time.monotonic() + timeout
        want = {"ingest", "control", "feed", "http"}
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vigild exited with {self.proc.returncode} at start; "
                                   f"log: {self.log_path}")
            if ports_file.exists():
                ports = {}
                for line in ports_file.read_text().splitlines():
                    name, _, port = line.partition(":")
                    if port.strip().isdigit():
                        ports[name.strip()] = int(port)
                if want <= ports.keys():
                    self.ports = ports
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"no ports file with {sorted(want)} within {timeout} s")
        while time.monotonic() < deadline:
            status, _ = http_get(self.ports["http"], "/healthz", timeout=2.0)
            if status == 200:
                return
            time.sleep(0.1)
        raise RuntimeError("vigild does not answer /healthz")

    @property
    def pid(self):
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss_kib(self):
        return self.memory_kib().get("VmRSS")

    def memory_kib(self):
        """VmRSS and its parts (RssAnon: the heap and stacks; RssFile: mapped files such as the
        binary and its libraries; RssShmem: shared memory such as SQLite's WAL index), in KiB."""
        found = {}
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    key = line.split(":", 1)[0]
                    if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                        found[key] = int(line.split()[1])
        except (OSError, ValueError, IndexError):
            return {}
        return found

    def fd_count(self):
        try:
            return len(os.listdir(f"/proc/{self.proc.pid}/fd"))
        except OSError:
            return None

    def cap_log(self):
        """Keeps the log under its cap: the full file moves to vigild.log.1 and a new one starts.
        vigild's descriptor is O_APPEND, so truncating under it is safe (a few lines may be lost)."""
        try:
            if self.log_path.stat().st_size <= self.log_max_bytes:
                return
            shutil.copyfile(self.log_path, self.log_path.with_suffix(".log.1"))
            os.truncate(self.log_path, 0)
            self.rotations += 1
        except OSError:
            pass

    def stop(self, timeout=20.0):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.exit_code = "killed (did not stop within %.0f s of SIGTERM)" % timeout
                return self.exit_code
        self.exit_code = self.proc.returncode
        return self.exit_code

    def log_between(self, t_from: float, t_to: float, limit: int) -> list:
        """Log lines stamped between two wall-clock times (the log's stamps are UTC)."""
        out = []
        stamp = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z")
        for path in (self.log_path.with_suffix(".log.1"), self.log_path):
            try:
                with open(path, "r", encoding="utf-8", errors="replace") as f:
                    for line in f:
                        m = stamp.match(line)
                        if not m:
                            continue
                        try:
                            t = datetime.datetime.fromisoformat(m.group(1)).replace(
                                tzinfo=datetime.timezone.utc).timestamp()
                        except ValueError:
                            continue
                        if t_from <= t <= t_to:
                            out.append(line.rstrip("\n"))
            except OSError:
                pass
        return out[:limit]

    def log_tail(self, n=25) -> list:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - 64 * 1024))
                return f.read().decode("utf-8", "replace").splitlines()[-n:]
        except OSError:
            return []


# ---------------------------------------------------------------------------------------------
# The bystander: one well-behaved device
# ---------------------------------------------------------------------------------------------


class Bystander(threading.Thread):
    def __init__(self, port, device_id, tok, chair, period, ack_timeout, stop: threading.Event):
        super().__init__(name="bystander", daemon=True)
        self.port, self.device_id, self.tok, self.chair = port, device_id, tok, chair
        self.period, self.ack_timeout, self.stop_event = period, ack_timeout, stop
        self.sent = 0
        self.acked = 0
        self.latencies = []
        self.max_latency = 0.0
        self.late = 0
        self.failures = []  # (monotonic time, text)
        self.reconnects = collections.Counter()  # documented reasons
        self.connects = 0
        self.send_slips = 0
        self.next_seq = 1
        self.pending = collections.OrderedDict()  # seq -> [sent_at, frame, late_flagged]
        self.finished = threading.Event()

    def fail(self, text):
        if len(self.failures) < 200:
            self.failures.append((time.monotonic(), time.time(), text))

    def frame_for(self, seq):
        now_ms = int(time.time() * 1000)
        return delimited(m_batch(seq, [m_sample(1, 72.0, now_ms), m_sample(3, 97.0, now_ms)]))

    def on_acked(self, upto, now):
        for seq in [s for s in self.pending if s <= upto]:
            sent_at, _, flagged = self.pending.pop(seq)
            lat = now - sent_at
            if lat > self.ack_timeout and not flagged:
                self.late += 1
                self.fail(f"batch seq {seq} acked after {lat * 1000:.0f} ms (bound {self.ack_timeout:g} s)")
            self.latencies.append(lat)
            self.max_latency = max(self.max_latency, lat)
            self.acked += 1

    def check_late(self, now):
        for seq, item in self.pending.items():
            if now - item[0] <= self.ack_timeout:
                break  # pending is in send order
            if not item[2]:
                item[2] = True
                self.late += 1
                self.fail(f"batch seq {seq} not acked within {self.ack_timeout:g} s")

    def run(self):
        try:
            while True:
                outcome = self.session()
                if outcome == "done":
                    break
                time.sleep(0.2)
        except Exception as e:  # a bug in this thread must show, not kill it silently
            self.fail(f"bystander thread crashed: {type(e).__name__}: {e}")
        finally:
            now = time.monotonic()
            self.check_late(now + self.ack_timeout + 1)  # whatever is still pending is late
            self.finished.set()

    def session(self):
        """One connection. Returns 'done' at the end of the run, 'again' to reconnect."""
        now = time.monotonic()
        try:
            sock = socket.create_connection((LOOPBACK, self.port), timeout=2.0)
        except OSError as e:
            self.fail(f"cannot connect: {e}")
            return "done" if self.stop_event.is_set() else "again"
        self.connects += 1
        reader = FrameReader()
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(delimited(m_hello(self.device_id, self.tok, 1, self.chair, "fuzz-ports bystander")))
            # Welcome
            deadline = time.monotonic() + 3.0
            welcome = None
            while welcome is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.fail("no Welcome within 3 s")
                    return "again"
                r, _, _ = select.select([sock], [], [], left)
                if not r:
                    continue
                data = sock.recv(65536)
                if not data:
                    self.fail("connection closed before the Welcome, without an error frame")
                    return "again"
                for payload in reader.feed(data):
                    kind, msg = decode_daemon(payload)
                    if kind == "welcome":
                        welcome = msg
                    elif kind == "error":
                        return self.on_error(msg, before_welcome=True)
                    else:
                        self.fail(f"unexpected {kind} before the Welcome")
            acked = first(welcome, 2, 0)
            now = time.monotonic()
            self.on_acked(acked, now)
            if acked >= self.next_seq:
                self.next_seq = acked + 1
            for seq, item in self.pending.items():  # resend what is not acked, in order
                sock.sendall(item[1])
            next_send = time.monotonic()
            stopping_since = None
            while True:
                now = time.monotonic()
                self.check_late(now)
                if self.stop_event.is_set():
                    if stopping_since is None:
                        stopping_since = now
                    if not self.pending or now - stopping_since > self.ack_timeout + 0.5:
                        sock.shutdown(socket.SHUT_WR)
                        recv_some(sock, time.monotonic() + 1.0)
                        return "done"
                elif now >= next_send:
                    seq = self.next_seq
                    self.next_seq += 1
                    frame = self.frame_for(seq)
                    self.pending[seq] = [now, frame, False]
                    sock.settimeout(self.ack_timeout)
                    sock.sendall(frame)
                    self.sent += 1
                    next_send += self.period
                    if next_send < now:  # this thread was held up: do not send a burst
                        self.send_slips += 1
                        next_send = now + self.period
                wait = max(0.0, min(next_send - time.monotonic(), 0.05))
                r, _, _ = select.select([sock], [], [], wait)
                if not r:
                    continue
                data = sock.recv(65536)
                if not data:
                    self.fail("connection closed by vigild without an error frame")
                    return "again"
                now = time.monotonic()
                for payload in reader.feed(data):
                    kind, msg = decode_daemon(payload)
                    if kind == "ack":
                        self.on_acked(first(msg, 1, 0), now)
                    elif kind == "error":
                        out = self.on_error(msg)
                        if out:
                            return out
                    elif kind != "pong":
                        self.fail(f"unexpected {kind} frame while streaming")
        except (OSError, ValueError) as e:
            self.fail(f"connection failed: {type(e).__name__}: {e}")
            return "again"
        finally:
            close_quietly(sock)

    def on_error(self, msg, before_welcome=False):
        code = DEVICE_ERRORS.get(first(msg, 1, 0), f"code {first(msg, 1, 0)}")
        text = first(msg, 2, b"").decode("utf-8", "replace")
        where = " before the Welcome" if before_welcome else ""
        if not first(msg, 3, 0):
            self.fail(f"non-fatal {code}{where} on a well-formed batch (seq {first(msg, 4, 0)}): {text}")
            return None
        if code == "DEVICE_RECONNECTED":
            # Documented, but no valid Hello ever names the bystander's id: the attackers' Hellos
            # with its id are refused ones, which must not disturb the connection in place.
            self.reconnects[code] += 1
            self.fail(f"closed with DEVICE_RECONNECTED{where} although only refused Hellos used its id: {text}")
            return "again"
        if code == "SEQUENCE_RESET":
            # Documented, but no attacker ever asks to reset the bystander's device.
            self.reconnects[code] += 1
            self.fail(f"closed with SEQUENCE_RESET{where} although nobody reset this device: {text}")
            return "again"
        if code in RECONNECT_OK:
            self.reconnects[code] += 1
            return "again"
        self.fail(f"closed with fatal {code}{where}: {text}")
        return "again"


# ---------------------------------------------------------------------------------------------
# Attackers
# ---------------------------------------------------------------------------------------------


class Shared:
    """What the workers share: ports, tokens, and what they have learned from the daemon."""

    def __init__(self, daemon: Daemon, stop: threading.Event, io_timeout: float):
        self.ports = daemon.ports
        self.dev_token = daemon.fuzz_device_token
        self.bystander_token = daemon.device_token
        self.bystander_id, self.bystander_chair = daemon.bystander
        self.users = daemon.users
        self.profiles = daemon.profiles
        self.stop = stop
        self.io_timeout = io_timeout
        self.lock = threading.Lock()
        self.sessions: dict = {}  # session id -> chair
        self.alarms: set = set()  # (chair, session id, alarm id)
        self.max_event_id = 0
        self.refusals = collections.Counter()  # listener -> refusals at its connection limit
        self.script_errors: dict = {}  # (kind, exception) -> traceback, for exceptions not OSError
        self.chairs = [f"fuzz-chair-{i}" for i in range(16)]
        # Odd chair ids for the control port and the API (a bounded set, so that the daemon's
        # per-chair state stays bounded and RSS can be flat).
        self.odd_chairs = ["", " ", "fuzz-chair-0 ", "fuzz chair", "fuzz-chair-\x00", "fuzz\x07\x1b[2J",
                           "fuzz-chair-\u00e9\u202e", "x" * 65, "fuzz-" + "y" * 995, "../../etc/passwd",
                           "fuzz-chair-\r\n", "%s%n%x", "\U0001F600"]

    def learn_session(self, sid, chair):
        if sid:
            with self.lock:
                if len(self.sessions) > 500:
                    self.sessions.pop(next(iter(self.sessions)))
                self.sessions[sid] = chair

    def learn_alarm(self, chair, sid, aid):
        with self.lock:
            if len(self.alarms) > 500:
                self.alarms.pop()
            self.alarms.add((chair, sid, aid))

    def learn_event(self, eid):
        if eid and eid < (1 << 48):
            with self.lock:
                self.max_event_id = max(self.max_event_id, eid)

    def refused(self, listener):
        with self.lock:
            self.refusals[listener] += 1


class KindStats:
    __slots__ = ("runs", "conns", "exc", "outcomes")

    def __init__(self):
        self.runs = 0
        self.conns = 0
        self.exc = collections.Counter()
        self.outcomes = collections.Counter()


class Linger:
    """A connection held open for a while (idle, slowloris, a subscriber that does not read)."""
    __slots__ = ("sock", "until", "tick", "state")

    def __init__(self, sock, until, tick=None, state=None):
        self.sock, self.until, self.tick, self.state = sock, until, tick, state


def drip_tick(l: Linger, now: float):
    """Sends one more byte of l.state['data'] each second."""
    st = l.state
    if now >= st["next"] and st["pos"] < len(st["data"]):
        l.sock.send(st["data"][st["pos"]:st["pos"] + 1])
        st["pos"] += 1
        st["next"] = now + 1.0


NAN_BITS = [0x7FF8000000000000, 0x7FF0000000000001, 0xFFF8000000000000, 0x7FFFFFFFFFFFFFFF,
            0x7FF0000000000000, 0xFFF0000000000000, 0x0000000000000001, 0x8000000000000000]
ODD_VALUES = [math.nan, math.inf, -math.inf, -0.0, 1e308, -1e308, 5e-324, 1e9, -5.0, 350.0, 350.0001,
              100.0000001, -1e-300]
ODD_TIMES = [0, -1, -(1 << 63), (1 << 63) - 1, 1, 10 ** 12, 10 ** 15, (1 << 53) + 1]
ODD_KINDS = [0, 8, 9, 100, (1 << 31) - 1, 1 << 32, -1, -(1 << 31), MASK64]
PLAUSIBLE = {1: (40, 140), 2: (40, 140), 3: (80, 100), 4: (80, 180), 5: (40, 110), 6: (60, 130), 7: (6, 30)}


class Worker(threading.Thread):
    def __init__(self, idx: int, shared: Shared, seed: int, max_conns: int):
        super().__init__(name=f"worker-{idx}", daemon=True)
        self.idx = idx
        self.sh = shared
        self.rng = random.Random(seed)
        self.max_conns = max_conns
        self.stats: dict = collections.defaultdict(KindStats)
        self.kind = ""
        self.ephemeral: list = []
        self.lingering: list = []
        chosen = [a for a in ATTACKS if not ONLY or any(a[0].startswith(p) for p in ONLY)]
        self.attacks = chosen
        self.kinds = [k for k, _, _ in chosen]
        self.weights = [w for _, w, _ in chosen]
        self.fns = {k: f for k, _, f in chosen}

    # --- bookkeeping ---

    def note(self, outcome: str):
        self.stats[self.kind].outcomes[outcome] += 1

    def connect(self, port_name: str, rcvbuf: int | None = None, timeout: float | None = None):
        while len(self.lingering) + len(self.ephemeral) >= self.max_conns and self.lingering:
            close_quietly(self.lingering.pop(0).sock)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ephemeral.append(s)
        # Attackers come from addresses of their own (all of 127.0.0.0/8 is loopback): vigild
        # slows and blocks an address that fails to authenticate, and limits its unauthenticated
        # connections, so the bystander and the health probes, on 127.0.0.1, stand for the
        # monitors and the monitoring system elsewhere on the network. Half the connections come
        # from the worker's own address (soon blocked: the block is fuzzed too), half from an
        # address picked at random among 65,000 (mostly not blocked, so the attacks reach the
        # protocols behind authentication, and the daemon's table of addresses fills to its bound).
        if self.rng.random() < 0.5:
            s.bind((f"127.{1 + self.idx % 250}.0.2", 0))
        else:
            s.bind((f"127.{1 + self.idx % 250}.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}", 0))
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout or self.sh.io_timeout)
        s.connect((LOOPBACK, self.sh.ports[port_name]))
        self.stats[self.kind].conns += 1
        return s

    def linger(self, sock, seconds: float, tick=None, state=None):
        if sock in self.ephemeral:
            self.ephemeral.remove(sock)
        self.lingering.append(Linger(sock, time.monotonic() + seconds, tick, state))

    def tick_lingering(self):
        now = time.monotonic()
        for l in list(self.lingering):
            if now >= l.until:
                self.lingering.remove(l)
                (hard_reset if self.rng.random() < 0.3 else close_quietly)(l.sock)
            elif l.tick:
                try:
                    l.tick(l, now)
                except Exception:
                    self.lingering.remove(l)
                    close_quietly(l.sock)

    def run(self):
        try:  # attackers yield the CPU to vigild and to the bystander on a busy machine
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 5)
        except (OSError, AttributeError):
            pass
        while not self.sh.stop.is_set():
            self.tick_lingering()
            self.kind = self.rng.choices(self.kinds, self.weights)[0]
            st = self.stats[self.kind]
            st.runs += 1
            try:
                self.fns[self.kind](self)
            except Exception as e:  # an attack failing is normal
                st.exc[type(e).__name__] += 1
                if not isinstance(e, OSError):  # not a socket error: maybe a bug of this script
                    with self.sh.lock:
                        k = (self.kind, type(e).__name__)
                        if k not in self.sh.script_errors and len(self.sh.script_errors) < 20:
                            self.sh.script_errors[k] = traceback.format_exc(limit=4)
            finally:
                for s in self.ephemeral:
                    close_quietly(s)
                self.ephemeral.clear()
        for l in self.lingering:
            close_quietly(l.sock)
        self.lingering.clear()

    # --- helpers used by the attacks ---

    def t(self):
        return self.sh.io_timeout

    def rbytes(self, n):
        return self.rng.randbytes(n)

    def rstr(self, n=None):
        n = self.rng.randint(0, 12) if n is None else n
        return "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-_") for _ in range(n))

    def odd_string(self):
        """A string meant to be refused or mishandled, or an ordinary one."""
        r = self.rng
        return r.choice([
            "", self.rstr(), "x" * 1000, "x" * 2001, "y" * 64, "y" * 65, "a\x00b", "\x01\x02\x7f",
            "\u00e9\u4e2d\U0001F600", "\u202e\u200b", "%s%s%n", "'; DROP TABLE sessions; --",
            "\\\"{}[]", "\r\n\r\n", " " * 10, "z" * r.randint(0, 5000),
        ])

    def bad_utf8(self):
        return self.rng.choice([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"abc\x80", b"\xf8\x88\x80\x80\x80"])

    def device_drain(self, sock, seconds):
        """Reads the daemon's device frames for a while; notes what came. Returns (msgs, eof)."""
        data, eof = recv_some(sock, time.monotonic() + seconds)
        msgs = []
        try:
            for payload in FrameReader().feed(data):
                msgs.append(decode_daemon(payload))
        except ValueError:
            self.note("undecodable reply")
        for kind, m in msgs:
            if kind == "error":
                code = DEVICE_ERRORS.get(first(m, 1, 0), str(first(m, 1, 0)))
                self.note(code)
                if code == "TOO_MANY_CONNECTIONS":
                    self.sh.refused("ingest")
            elif kind in ("welcome", "ack", "pong"):
                self.note(kind)
        if eof:
            self.note("closed")
        return msgs, eof

    def fuzz_device(self):
        return f"fuzz-{self.rng.randrange(64)}"

    def odd_device(self):
        return self.rng.choice(["", "nobody", "fuzz-*", "fuzz-\x00", "fuzz- 1", "fuzz-" + "d" * 200, "\u00e9",
                                "fuzz-" + self.rstr(), "bystander", "*"])

    def fuzz_chair(self):
        return self.rng.choice(self.sh.chairs)

    def good_sample(self, now_ms, kind=None):
        kind = kind or self.rng.randint(1, 7)
        lo, hi = PLAUSIBLE[kind]
        return m_sample(kind, round(self.rng.uniform(lo, hi), 1), now_ms + self.rng.randint(-500, 500),
                        self.rng.choice([0, 0, 0, 1, 2, 4]))

    def bad_sample(self, now_ms):
        r = self.rng
        kind = r.choice(ODD_KINDS) if r.random() < 0.3 else r.randint(1, 7)
        raw = r.choice(NAN_BITS) if r.random() < 0.2 else None
        value = r.choice(ODD_VALUES) if r.random() < 0.5 else r.uniform(-1e6, 1e6)
        t = r.choice(ODD_TIMES) if r.random() < 0.4 else now_ms + r.randint(-10 ** 7, 10 ** 7)
        q = r.choice([0, 1 << 31, 0xFFFFFFFF, MASK64, 255, 16]) if r.random() < 0.3 else 0
        s = m_sample(kind, value, t, q, raw)
        roll = r.random()
        if roll < 0.05:
            s += f_varint(r.randint(5, 2000), r.getrandbits(64))  # unknown field
        elif roll < 0.08:
            s = f_bytes(1, b"kind-as-bytes") + s  # wrong wire type for a known field
        elif roll < 0.10:
            s = s + f_varint(3, now_ms)  # field repeated
        return s

    def hello_frame(self, device=None, chair=None):
        return delimited(m_hello(device or self.fuzz_device(), self.sh.dev_token, 1,
                                 chair or self.fuzz_chair(), self.rstr()))

    def read_welcome(self, sock):
        msgs, eof = [], False
        reader = FrameReader()
        deadline = time.monotonic() + self.t()
        while time.monotonic() < deadline:
            data, eof = recv_some(sock, deadline, stop=lambda d: True)
            for payload in reader.feed(data):
                msgs.append(decode_daemon(payload))
            if msgs or eof:
                break
        for kind, m in msgs:
            if kind == "welcome":
                self.note("welcome")
                return first(m, 2, 0)
            if kind == "error":
                code = DEVICE_ERRORS.get(first(m, 1, 0), "?")
                self.note(code)
                if code == "TOO_MANY_CONNECTIONS":
                    self.sh.refused("ingest")
        return None

    # --- control helpers ---

    def user_token(self, role=None):
        return self.sh.users[role or self.rng.choice(list(self.sh.users))]

    def control_exchange(self, sock, frames: list, seconds=None):
        """Sends control frames pipelined, reads responses. Returns [(rid, err, fields)]."""
        sock.sendall(b"".join(frames))
        want = len(frames)
        reader = FrameReader()
        got = []
        deadline = time.monotonic() + (seconds or self.t())
        while len(got) < want and time.monotonic() < deadline:
            data, eof = recv_some(sock, deadline, stop=lambda d: True)
            try:
                for payload in reader.feed(data):
                    f = parse_fields(payload)
                    got.append((first(f, 1, 0), CONTROL_ERRORS.get(first(f, 2, 0), str(first(f, 2, 0))), f))
            except ValueError:
                self.note("undecodable reply")
                break
            if eof:
                self.note("closed")
                break
        for rid, err, f in got:
            self.note("ctl:" + err)
            if err == "TOO_MANY_CONNECTIONS":
                self.sh.refused("control")
            self.learn_from_control(f)
        return got

    def learn_from_control(self, f):
        for raw in f.get(5, []):  # SessionState
            try:
                s = parse_fields(raw)
                sid = first(s, 1, 0)
                chair = first(s, 2, b"").decode("utf-8", "replace")
                self.sh.learn_session(sid, chair)
                for a in s.get(9, []):
                    self.sh.learn_alarm(chair, sid, first(parse_fields(a), 1, 0))
            except ValueError:
                pass

    def control_command(self, valid=True):
        """(field, body) of a random command, its fields mutated unless valid."""
        r = self.rng
        chair = self.fuzz_chair() if valid or r.random() < 0.5 else r.choice(self.sh.odd_chairs)
        s = (lambda: self.rstr(r.randint(1, 20))) if valid else self.odd_string
        cmd = r.choice([CMD_OPEN, CMD_OVERRIDE, CMD_DOSE, CMD_ACK, CMD_PAUSE, CMD_CLOSE, CMD_LIST, CMD_NOTE,
                        CMD_RESET, 19, 40, 63, 1000])
        alarm = self.known_alarm_id() if valid or r.random() < 0.5 else r.choice([0, 1, MASK64, 1 << 63, r.getrandbits(64)])
        big = r.choice([0, 1, 2 ** 31 - 1, 2 ** 32 - 1, 2 ** 32, MASK64, 1 << 63])
        at = r.choice([0, int(time.time() * 1000), -1, -(1 << 63), (1 << 63) - 1, big])
        if cmd == CMD_OPEN:
            profile = r.choice(self.sh.profiles + ["", "nope", "../generic", "x" * 300]) if not valid else r.choice(self.sh.profiles)
            body = f_bytes(1, chair) + f_bytes(2, s() or "P-1") + (f_bytes(3, profile) if profile else b"")
        elif cmd == CMD_OVERRIDE:
            body = f_bytes(1, chair) + f_bytes(2, s())
        elif cmd == CMD_DOSE:
            body = f_bytes(1, chair) + f_bytes(2, r.choice(["iv", "im", "intranasal", s()])) + f_bytes(3, s()) + (
                f_varint(4, at) if not valid and at else b"")
        elif cmd == CMD_ACK:
            body = f_bytes(1, chair) + f_varint(2, alarm)
        elif cmd == CMD_PAUSE:
            body = f_bytes(1, chair) + f_varint(2, r.randint(1, 600) if valid else big)
        elif cmd == CMD_CLOSE:
            body = f_bytes(1, chair) + (f_varint(2, 1) if r.random() < 0.5 else b"") + f_bytes(3, s()) + (
                f_varint(4, at) if not valid and at else b"")
        elif cmd == CMD_LIST:
            body = b"" if valid else r.choice([b"", f_varint(1, 5), self.rbytes(8)])
        elif cmd == CMD_NOTE:
            body = f_bytes(1, chair) + f_bytes(2, s())
        elif cmd == CMD_RESET:  # never the bystander's device
            body = f_bytes(1, self.fuzz_device() if valid or r.random() < 0.5 else self.odd_device()) + f_bytes(
                2, "fuzz reset" if valid else s())
        else:  # a command this daemon does not know
            body = self.rbytes(r.randint(0, 40))
        if not valid and r.random() < 0.1:
            body += f_bytes(r.randint(5, 50), self.rbytes(r.randint(0, 30)))  # unknown field
        return cmd, body

    def known_alarm_id(self):
        with self.sh.lock:
            if self.sh.alarms and self.rng.random() < 0.7:
                return self.rng.choice(list(self.sh.alarms))[2]
        return self.rng.randint(1, 200)

    def known_session_id(self):
        with self.sh.lock:
            if self.sh.sessions and self.rng.random() < 0.7:
                return self.rng.choice(list(self.sh.sessions))
        return self.rng.choice([1, 2, 3, self.rng.randint(1, 1000)])

    # --- HTTP helpers ---

    def http_request(self, method, path, headers=(), body=b"", host=True, length="auto", close=None):
        lines = [f"{method} {path} HTTP/1.1"]
        if host:
            lines.append("Host: 127.0.0.1")
        lines += [f"{k}: {v}" for k, v in headers]
        if length == "auto":
            if body or method == "POST":
                lines.append(f"Content-Length: {len(body)}")
        elif length is not None:
            lines.append(f"Content-Length: {length}")
        if close is None:
            close = self.rng.random() < 0.7
        if close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body

    def http_exchange(self, raw: bytes, responses=1, seconds=None, sock=None):
        """Sends raw bytes on a new HTTP connection; reads up to `responses` responses."""
        s = sock or self.connect("http")
        try:
            s.sendall(raw)
        except OSError:
            self.note("send failed")
        data, eof = recv_some(s, time.monotonic() + (seconds or self.t()),
                              stop=lambda d: len(parse_http_responses(bytes(d))) >= responses)
        resps = parse_http_responses(data)
        for status, headers, body in resps:
            self.note(f"http:{status}")
            if status == 503 and b"too_many_connections" in body:
                self.sh.refused("http")
            for m in re.finditer(rb'"session_id":"(\d+)"(?:,"chair_id":"([^"]*)")?', body):
                self.sh.learn_session(int(m.group(1)), (m.group(2) or b"").decode("utf-8", "replace"))
            for m in re.finditer(rb'"alarm_id":"(\d+)"', body):
                self.sh.learn_alarm("", 0, int(m.group(1)))
        if not resps:
            m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
            if m:  # a response cut short, or one to HEAD (a Content-Length and no body)
                self.note(f"http:{m.group(1).decode()} (incomplete)")
            else:
                self.note("no response" if not eof else "closed without response")
        return resps, data, eof

    def auth(self, role=None):
        return ("Authorization", f"Bearer {self.user_token(role)}")

    def junk_json(self) -> bytes:
        r = self.rng
        n = r.randint(1, 20000)
        return r.choice([
            b"", b"{}", b"null", b"[]", b"{", b'{"chair_id":', b'{"chair_id":123}', b'{"unknown":1}',
            b"[" * n + b"]" * n, b'{"a":' * n + b"1" + b"}" * n, b"[" * n,
            b'{"chair_id":"\\ud800"}', b'{"text":"' + self.bad_utf8() + b'"}', b"1e999999",
            b'{"duration_s":1e40}', b'{"duration_s":-1}', b'{"duration_s":"120"}',
            b'{"at_ms":"-9223372036854775809"}', b'{"at_ms":"18446744073709551616"}', b'{"at_ms":1.5}',
            b'{"text":"' + b"x" * 3000 + b'"}', b'{"reason":""}', b'{"abort":true}', b'{"route":null}',
            b'{"chair_id":"fuzz-chair-1","patient_ref":"' + b"p" * 65 + b'"}', b"\x00" * 10,
            self.rbytes(r.randint(1, 300)), b'{"chair_id":"a","chair_id":"b"}', b'{"__proto__":{}}',
            json.dumps({"text": self.odd_string()}).encode(),
            json.dumps({"duration_s": r.choice([0, 1, 120, 601, 2 ** 32, 2 ** 64])}).encode(),
        ])

    def api_body(self, what):
        """A plausible body for an API route."""
        r = self.rng
        if what == "open":
            return json.dumps({"chair_id": self.fuzz_chair(), "patient_ref": f"P-{r.randint(1, 999)}",
                               "profile": r.choice(self.sh.profiles)}).encode()
        if what == "reset":  # never the bystander's device
            return json.dumps({"device_id": self.fuzz_device() if r.random() < 0.7 else self.odd_device(),
                               "reason": r.choice(["fuzz reset", "", "r" * 501, self.odd_string()])}).encode()
        return json.dumps(r.choice([
            {"reason": "fuzz override"}, {"route": "iv", "dose": "0.5 mg/kg"}, {}, {"reason": "fuzz abort"},
            {"text": "fuzz note"}, {"duration_s": r.randint(1, 300)}])).encode()


# --- ingest attacks ---


def a_ingest_random_bytes(w: Worker):
    s = w.connect("ingest")
    s.sendall(w.rbytes(w.rng.choice([1, 7, 64, 1000, 20000])))
    w.device_drain(s, 1.0)


def a_ingest_random_payload(w: Worker):
    s = w.connect("ingest")
    frames = b""
    for _ in range(w.rng.randint(1, 5)):
        payload = w.rbytes(w.rng.randint(1, 400))
        if w.rng.random() < 0.3:  # plausible-looking envelope with random body
            payload = f_bytes(w.rng.randint(1, 3), w.rbytes(w.rng.randint(0, 200)))
        frames += delimited(payload)
    if w.rng.random() < 0.5:
        frames = w.hello_frame() + frames
    s.sendall(frames)
    w.device_drain(s, 1.0)


def a_ingest_huge_length(w: Worker):
    s = w.connect("ingest")
    n = w.rng.choice([65537, 1 << 20, 16777216, 16777217, 1 << 31, 1 << 32, 1 << 63, MASK64])
    pre = w.hello_frame() if w.rng.random() < 0.5 else b""
    s.sendall(pre + uvarint(n) + w.rbytes(w.rng.randint(0, 5000)))
    w.device_drain(s, 1.0)


def a_ingest_malformed_varint(w: Worker):
    s = w.connect("ingest")
    v = w.rng.choice([b"\x80" * 11, b"\xff" * 10 + b"\x01", b"\x80" * 9 + b"\x02", b"\xff" * 9 + b"\x7f",
                      b"\x80" * 10, b"\x00", b"\x80\x00", b"\xff" * 40])
    pre = w.hello_frame() if w.rng.random() < 0.4 else b""
    s.sendall(pre + v)
    w.device_drain(s, 1.0)


def a_ingest_truncated(w: Worker):
    s = w.connect("ingest")
    now_ms = int(time.time() * 1000)
    full = w.hello_frame() + delimited(m_batch(w.rng.randint(1, 1 << 40), [w.good_sample(now_ms) for _ in range(5)]))
    cut = w.rng.randint(1, len(full) - 1)
    s.sendall(full[:cut])
    mode = w.rng.random()
    if mode < 0.4:
        s.shutdown(socket.SHUT_WR)
        w.device_drain(s, 1.0)
    elif mode < 0.7:
        w.device_drain(s, 0.2)
    else:
        hard_reset(s)


def a_ingest_bad_hello(w: Worker):
    r = w.rng
    sh = w.sh
    variant = r.choice(["wrong_token", "empty_token", "unknown_id", "odd_id", "bad_chair", "bad_version",
                        "bad_utf8", "batch_first", "ping_first", "two_hellos", "impostor_token",
                        "impostor_chair", "empty_hello"])
    dev, tok, ver, chair = w.fuzz_device(), sh.dev_token, 1, w.fuzz_chair()
    frames = None
    if variant == "wrong_token":
        tok = r.choice([token(), tok[:-1], tok + "x", tok.upper(), sh.bystander_token, sh.users["admin"]])
    elif variant == "empty_token":
        tok = ""
    elif variant == "unknown_id":
        dev = r.choice(["nobody", "fuzz", "Fuzz-1", "bystander", "fuzz*", token(20)])
    elif variant == "odd_id":
        dev = r.choice(["", "fuzz-\x00", "fuzz- 1", "fuzz-" + "z" * 124, "fuzz-" + "z" * 200, "fuzz-\u00e9", "\x7f"])
    elif variant == "bad_chair":
        chair = r.choice(["", " ", "chair 1", "c" * 65, "\x00", "chair-\u00e9", "\t"])
    elif variant == "bad_version":
        ver = r.choice([0, 2, 3, 255, 1 << 31, MASK64, -1])
    elif variant == "bad_utf8":
        frames = delimited(f_bytes(1, f_bytes(1, b"fuzz-" + w.bad_utf8()) + f_bytes(2, tok) + f_varint(3, 1)
                                   + f_bytes(4, chair)))
    elif variant == "batch_first":
        frames = delimited(m_batch(1, [w.good_sample(int(time.time() * 1000))]))
    elif variant == "ping_first":
        frames = delimited(m_ping(r.getrandbits(64)))
    elif variant == "two_hellos":
        frames = w.hello_frame() + w.hello_frame()
    elif variant == "impostor_token":  # the bystander's id with a wrong token: must not disturb it
        dev, tok, chair = sh.bystander_id, token(), sh.bystander_chair
    elif variant == "impostor_chair":  # ... or with its token and another chair
        dev, tok, chair = sh.bystander_id, sh.bystander_token, w.fuzz_chair()
    elif variant == "empty_hello":
        frames = delimited(f_bytes(1, b""))
    if frames is None:
        frames = delimited(m_hello(dev, tok, ver, chair, w.rstr()))
    s = w.connect("ingest")
    s.sendall(frames)
    w.device_drain(s, 1.0)


def ingest_stream(w: Worker, s, ops: int, flood=False):
    """After a Welcome: batches with good and bad fields, pings, sequence games."""
    r = w.rng
    seq = w.read_welcome(s)
    if seq is None:
        return
    for _ in range(ops):
        now_ms = int(time.time() * 1000)
        op = r.random()
        if flood:
            n = r.choice([1000, 2000, 2900, 3300, 5000])
            samples = [w.good_sample(now_ms) if r.random() < 0.8 else w.bad_sample(now_ms) for _ in range(n)]
            seq += 1
            frame = delimited(m_batch(seq, samples))
        elif op < 0.35:
            seq += 1
            frame = delimited(m_batch(seq, [w.good_sample(now_ms) for _ in range(r.randint(0, 10))]))
        elif op < 0.65:
            seq += 1
            frame = delimited(m_batch(seq, [w.bad_sample(now_ms) if r.random() < 0.6 else w.good_sample(now_ms)
                                            for _ in range(r.randint(1, 40))]))
        elif op < 0.72:
            frame = delimited(m_batch(r.choice([0, max(1, seq - r.randint(0, 3)), seq]), [w.good_sample(now_ms)]))
        elif op < 0.77:
            seq = r.choice([MASK64, MASK64 - 1, 1 << 63, seq + (1 << 40)])
            frame = delimited(m_batch(seq, [w.good_sample(now_ms)]))
        elif op < 0.87:
            frame = delimited(m_ping(r.choice([0, 1, MASK64, r.getrandbits(64)])))
        elif op < 0.90:
            frame = delimited(m_ping(1) + f_varint(r.randint(16, 100), 7))  # unknown envelope field
        elif op < 0.93:
            frame = delimited(f_varint(r.randint(16, 1000), 1))  # only an unknown field
        elif op < 0.95:
            frame = w.hello_frame()  # a second Hello
        elif op < 0.97:
            frame = delimited(m_batch(seq + 1, []) + m_ping(5))  # two bodies in one envelope
            seq += 1
        else:
            frame = w.rbytes(r.randint(1, 50))
        s.sendall(frame)
        if r.random() < 0.5:
            _, eof = w.device_drain(s, 0.05)
            if eof:
                return
    end = r.random()
    if end < 0.3:
        s.shutdown(socket.SHUT_WR)
        w.device_drain(s, 2.0)
    elif end < 0.5:
        hard_reset(s)
    else:
        w.device_drain(s, 0.3)


def a_ingest_session(w: Worker):
    s = w.connect("ingest")
    s.sendall(w.hello_frame())
    ingest_stream(w, s, w.rng.randint(1, 12))


def a_ingest_flood(w: Worker):
    s = w.connect("ingest")
    s.sendall(w.hello_frame())
    ingest_stream(w, s, w.rng.randint(1, 3), flood=True)


def a_ingest_bitflip(w: Worker):
    r = w.rng
    now_ms = int(time.time() * 1000)
    stream = bytearray(w.hello_frame())
    for i in range(r.randint(1, 4)):
        stream += delimited(m_batch(r.randint(1, 1 << 30) + i, [w.good_sample(now_ms) for _ in range(r.randint(1, 8))]))
        if r.random() < 0.3:
            stream += delimited(m_ping(r.getrandbits(32)))
    start = 0 if r.random() < 0.4 else len(w.hello_frame()) // 2
    for _ in range(r.randint(1, 8)):
        pos = r.randrange(start, len(stream))
        stream[pos] ^= 1 << r.randrange(8)
    if r.random() < 0.2:
        del stream[r.randrange(len(stream))]
    if r.random() < 0.2:
        stream.insert(r.randrange(len(stream)), r.getrandbits(8))
    s = w.connect("ingest")
    s.sendall(bytes(stream))
    w.device_drain(s, 1.0)


def a_ingest_slowloris(w: Worker):
    s = w.connect("ingest")
    if w.rng.random() < 0.5:
        w.note("silent")
        w.linger(s, w.rng.uniform(2, 10))
    else:
        w.note("drip")
        data = w.hello_frame() + delimited(m_ping(1))
        w.linger(s, w.rng.uniform(3, 10), drip_tick, {"data": data, "pos": 0, "next": 0.0})


def a_ingest_half_close(w: Worker):
    s = w.connect("ingest")
    now_ms = int(time.time() * 1000)
    data = w.hello_frame() if w.rng.random() < 0.8 else b""
    for i in range(w.rng.randint(0, 4)):
        data += delimited(m_batch(w.rng.randint(1, 1 << 40) + i, [w.good_sample(now_ms)]))
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    w.device_drain(s, 2.0)


def a_ingest_reset(w: Worker):
    s = w.connect("ingest")
    roll = w.rng.random()
    if roll < 0.3:
        s.sendall(w.hello_frame())
    elif roll < 0.6:
        s.sendall(w.hello_frame()[:w.rng.randint(1, 10)])
        time.sleep(w.rng.uniform(0, 0.2))
    hard_reset(s)


# --- control attacks ---


def a_control_garbage(w: Worker):
    r = w.rng
    s = w.connect("control")
    data = r.choice([
        w.rbytes(r.randint(1, 3000)), b"\x00", b"\x80\x00", b"\x80" * 11, b"\xff" * 10 + b"\x02",
        uvarint(16385) + w.rbytes(100), uvarint(r.choice([1 << 20, 1 << 32, MASK64])) + w.rbytes(10),
        delimited(w.rbytes(r.randint(1, 200))), delimited(f_bytes(2, w.bad_utf8())),
        delimited(f_bytes(2, w.user_token()) + f_bytes(CMD_NOTE, f_bytes(1, "fuzz-chair-1") + f_bytes(2, w.bad_utf8()))),
        delimited(m_control(1, w.user_token(), CMD_LIST)) + w.rbytes(50),
    ])
    s.sendall(data)
    _, eof = recv_some(s, time.monotonic() + 1.0)
    w.note("closed" if eof else "open")


def a_control_bad_token(w: Worker):
    r = w.rng
    s = w.connect("control")
    frames = []
    for i in range(r.randint(1, 5)):
        tok = r.choice(["", token(), w.sh.dev_token, w.user_token()[:-1], w.user_token() + " ", "x" * 5000,
                        w.user_token().lower()])
        frames.append(delimited(m_control(i + 1, tok, CMD_LIST)))
    w.control_exchange(s, frames)


def a_control_commands(w: Worker):
    r = w.rng
    s = w.connect("control")
    frames = []
    for i in range(r.randint(1, 8)):
        cmd, body = w.control_command(valid=r.random() < 0.4)
        tok = w.user_token() if r.random() < 0.9 else token()
        extra = b""
        if r.random() < 0.05:
            cmd2, body2 = w.control_command()
            extra = f_bytes(cmd2, body2)  # two commands of the oneof
        frames.append(delimited(m_control(r.choice([i, r.getrandbits(64)]), tok, cmd, body, extra)))
    got = w.control_exchange(s, frames)
    for rid, err, f in got:
        sid = first(f, 4, 0)
        if sid:
            w.sh.learn_session(sid, "")
    if r.random() < 0.3:
        s.shutdown(socket.SHUT_WR)
        recv_some(s, time.monotonic() + 1.0)


def a_control_clinic(w: Worker):
    """A nurse station at work: open, override, dose, list, acknowledge, pause, note, close."""
    r = w.rng
    chair = w.fuzz_chair()
    admin, nurse = w.user_token("admin"), w.user_token("nurse")
    s = w.connect("control")
    frames = [
        delimited(m_control(1, admin, CMD_OPEN, f_bytes(1, chair) + f_bytes(2, f"P-{r.randint(1, 9999)}")
                            + f_bytes(3, r.choice(w.sh.profiles)))),
        delimited(m_control(2, admin, CMD_OVERRIDE, f_bytes(1, chair) + f_bytes(2, "fuzz override"))),
        delimited(m_control(3, admin, CMD_DOSE, f_bytes(1, chair) + f_bytes(2, "intranasal") + f_bytes(3, "56 mg"))),
        delimited(m_control(4, nurse, CMD_NOTE, f_bytes(1, chair) + f_bytes(2, "fuzz note " + w.rstr()))),
        delimited(m_control(5, w.user_token("viewer"), CMD_LIST)),
    ]
    got = w.control_exchange(s, frames)
    acks = []
    with w.sh.lock:
        mine = [a for a in w.sh.alarms if a[0] == chair]
    for _, sid, aid in mine[:5]:
        acks.append(delimited(m_control(10 + aid % 1000, nurse, CMD_ACK, f_bytes(1, chair) + f_varint(2, aid))))
    acks.append(delimited(m_control(20, nurse, CMD_PAUSE, f_bytes(1, chair) + f_varint(2, r.choice([30, 120, 600, 601])))))
    if r.random() < 0.6:
        body = f_bytes(1, chair) + ((f_varint(2, 1) + f_bytes(3, "fuzz abort")) if r.random() < 0.5 else b"")
        acks.append(delimited(m_control(30, admin, CMD_CLOSE, body)))
    if got:
        w.control_exchange(s, acks)


def a_control_bitflip(w: Worker):
    r = w.rng
    stream = bytearray()
    for i in range(r.randint(1, 4)):
        cmd, body = w.control_command(valid=True)
        stream += delimited(m_control(i, w.user_token(), cmd, body))
    for _ in range(r.randint(1, 6)):
        stream[r.randrange(len(stream))] ^= 1 << r.randrange(8)
    s = w.connect("control")
    s.sendall(bytes(stream))
    _, eof = recv_some(s, time.monotonic() + 1.0)
    w.note("closed" if eof else "open")


def a_control_idle(w: Worker):
    """A burst of connections that send nothing (or half a frame) and stay open; now and then as
    many as this worker may hold, so that several workers together can reach the listener's limit."""
    n = w.max_conns - 2 if w.rng.random() < 0.25 else w.rng.randint(1, 6)
    for _ in range(max(1, n)):
        s = w.connect("control")
        if w.rng.random() < 0.3:
            s.sendall(b"\x85")  # half a frame
            w.note("partial")
        else:
            w.note("silent")
        w.linger(s, w.rng.uniform(5, 30))
    s = w.connect("control")  # is there still room for a real client?
    w.control_exchange(s, [delimited(m_control(1, w.user_token(), CMD_LIST))])


# --- HTTP attacks ---

API_GET = ["/api/v1/me", "/api/v1/sessions", "/api/v1/sessions?state=all&limit=5", "/api/v1/sessions?state=open",
           "/api/v1/sessions/{s}", "/api/v1/sessions/{s}/timeline.json", "/api/v1/sessions/{s}/timeline.csv?what=vitals",
           "/api/v1/sessions/{s}/timeline.csv?what=events", "/api/v1/sessions/{s}/report.html", "/healthz",
           "/metrics", "/", "/static/app.js", "/static/style.css", "/api/v1/feed"]
API_POST = ["/api/v1/sessions", "/api/v1/sessions/{s}/override", "/api/v1/sessions/{s}/dose",
            "/api/v1/sessions/{s}/close", "/api/v1/sessions/{s}/abort", "/api/v1/sessions/{s}/notes",
            "/api/v1/sessions/{s}/pause", "/api/v1/sessions/{s}/alarms/{a}/ack",
            "/api/v1/devices/reset"]  # the last one is newer than some daemons (404 there)


def a_http_malformed(w: Worker):
    r = w.rng
    raw = r.choice([
        b"GET\r\n\r\n", b"GARBAGE / HTTP/1.1\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET  HTTP/1.1\r\n\r\n",
        b"GET /\r\n\r\n", b"\r\n\r\n", b"GET / HTTP/1.1\n\n", b"GET /healthz HTTP/1.1\r\nNoColonHere\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: a\r\n folded: header\r\n\r\n", b"GET /\x00 HTTP/1.1\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nContent-Length: -1\r\n\r\n", b"GET /healthz HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", b"GET /healthz HTTP/1.0\r\n\r\n", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + w.rbytes(100),  # a TLS ClientHello
        w.rbytes(r.randint(1, 2000)), b"GET /healthz HTTP/1.1\r\n" + w.rbytes(200) + b"\r\n\r\n",
        b"GET http://evil/ HTTP/1.1\r\nHost: evil\r\n\r\n", b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET /healthz?" + b"%" * 100 + b" HTTP/1.1\r\n\r\n",
    ])
    w.http_exchange(raw, seconds=1.5)


def a_http_huge_headers(w: Worker):
    r = w.rng
    heads = r.choice([
        [("X-Big", "a" * r.choice([8000, 9000, 20000, 100000]))],
        [(f"X-H{i}", "v" * 100) for i in range(r.choice([50, 90, 200, 1000]))],
        [("Cookie", "c=" + "x" * 7900)],
        [("Authorization", "Bearer " + "t" * 8200)],
    ])
    w.http_exchange(w.http_request("GET", r.choice(["/healthz", "/api/v1/me"]), heads), seconds=2.0)


def a_http_bad_method(w: Worker):
    r = w.rng
    m = r.choice(["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "get", "G E T", "GET\x00",
                  "X" * 1000, "HEAD", "PROPFIND", w.rstr(r.randint(1, 30)).upper()])
    path = r.choice(API_GET + API_POST).format(s=w.known_session_id(), a=w.known_alarm_id())
    w.http_exchange(w.http_request(m, path, [w.auth()]), seconds=1.5)


def a_http_dup_query(w: Worker):
    r = w.rng
    q = r.choice([
        "/api/v1/sessions?state=all&state=open", "/api/v1/sessions?state=all&limit=1&limit=99999",
        "/api/v1/sessions?limit=0", "/api/v1/sessions?state=all&limit=-1", "/api/v1/sessions?state=all&limit=1e3",
        "/api/v1/sessions?state=all&limit=99999999999999999999", "/api/v1/sessions?state=%00",
        "/api/v1/sessions?state=%ZZ", "/api/v1/sessions?&&&=&=", "/api/v1/sessions?state", "/api/v1/sessions?=all",
        "/api/v1/sessions/{s}/timeline.csv?what=vitals&what=events", "/api/v1/sessions/{s}/timeline.csv",
        "/api/v1/sessions/{s}/timeline.csv?what=", "/api/v1/sessions/{s}/timeline.csv?what=%76itals",
        "/api/v1/sessions?" + "&".join(f"k{i}=v" for i in range(500)),
        "/api/v1/sessions?state=open&limit=5", "/healthz?x=1&x=2", "/api/v1/me?#frag",
    ]).format(s=w.known_session_id())
    w.http_exchange(w.http_request("GET", q, [w.auth("viewer")]), seconds=2.0)


def a_http_random_path(w: Worker):
    r = w.rng
    segs = ["sessions", str(w.known_session_id()), "alarms", str(w.known_alarm_id()), "ack", "..", ".", "",
            "%2e%2e", "0", "-1", "99999999999999999999999", "1e3", "0x10", "%00", "timeline.json", "report.html",
            "feed", "me", "devices", "reset", w.rstr(), "\u00e9", "a" * 300, "18446744073709551615", "18446744073709551616"]
    path = "/api/v1/" + "/".join(r.choice(segs) for _ in range(r.randint(0, 6)))
    if r.random() < 0.2:
        path += r.choice(["/", "//", "?", "#", ";x=1"])
    w.http_exchange(w.http_request(r.choice(["GET", "GET", "POST"]), path, [w.auth()],
                                   body=b"{}" if r.random() < 0.3 else b""), seconds=2.0)


def a_http_bad_auth(w: Worker):
    r = w.rng
    heads = r.choice([
        [], [("Authorization", "")], [("Authorization", "Bearer")], [("Authorization", "Bearer ")],
        [("Authorization", "Basic " + base64.b64encode(b"a:b").decode())], [("Authorization", "bearer " + w.user_token())],
        [("Authorization", "Bearer " + token())], [("Authorization", "Bearer " + w.sh.dev_token)],
        [("Authorization", "Bearer " + w.user_token() + "\x01")], [("Authorization", "Bearer " + "x" * 7000)],
        [("Authorization", "Bearer " + w.user_token("viewer")), ("Authorization", "Bearer " + w.user_token("admin"))],
        [("Authorization", "Bearer  " + w.user_token())], [("Authorization", "Bearer " + w.user_token()[:-1])],
    ])
    tmpl = r.choice(API_GET + API_POST)
    path = tmpl.format(s=w.known_session_id(), a=w.known_alarm_id())
    method = "POST" if tmpl in API_POST or r.random() < 0.1 else "GET"
    body = w.junk_json() if method == "POST" else b""
    w.http_exchange(w.http_request(method, path, heads + [("Content-Type", "application/json")], body), seconds=2.0)


def a_http_routes(w: Worker):
    """Valid tokens on every documented route, with plausible or junk bodies."""
    r = w.rng
    role = r.choice(["admin", "admin", "nurse", "viewer"])
    if r.random() < 0.4:
        path = r.choice(API_GET).format(s=w.known_session_id())
        raw = w.http_request("GET", path, [w.auth(role)])
    else:
        tmpl = r.choice(API_POST)
        path = tmpl.format(s=w.known_session_id(), a=w.known_alarm_id())
        if r.random() < 0.5:
            body = w.api_body({"/api/v1/sessions": "open", "/api/v1/devices/reset": "reset"}.get(tmpl, "cmd"))
        else:
            body = w.junk_json()
        ctype = r.choice(["application/json"] * 6 + ["text/plain", "application/json; charset=utf-16",
                                                        "application/x-www-form-urlencoded", None, "\x00"])
        heads = [w.auth(role)] + ([("Content-Type", ctype)] if ctype else [])
        raw = w.http_request("POST", path, heads, body)
    w.http_exchange(raw, seconds=3.0)


def a_http_framing(w: Worker):
    """Content-Length and chunking games."""
    r = w.rng
    body = w.api_body("cmd")
    path = r.choice(API_POST).format(s=w.known_session_id(), a=w.known_alarm_id())
    heads = [w.auth("admin"), ("Content-Type", "application/json")]
    variant = r.randrange(8)
    if variant == 0:
        raw = w.http_request("POST", path, heads, body, length=len(body) + r.randint(1, 100))  # body too short
    elif variant == 1:
        raw = w.http_request("POST", path, heads, body + b"GARBAGE", length=len(body))  # extra bytes
    elif variant == 2:
        raw = w.http_request("POST", path, heads, w.rbytes(10), length=r.choice([70000, 1 << 31, 1 << 63, "1" * 30]))
    elif variant == 3:
        chunks = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        raw = w.http_request("POST", path, heads + [("Transfer-Encoding", "chunked")], chunks, length=None)
    elif variant == 4:
        bad = r.choice([b"zz\r\nabc\r\n0\r\n\r\n", b"ffffffffffffffff\r\nabc\r\n", b"5\r\nabc\r\n",
                        b"-1\r\n\r\n", b"1;ext=" + b"e" * 9000 + b"\r\na\r\n0\r\n\r\n"])
        raw = w.http_request("POST", path, heads + [("Transfer-Encoding", "chunked")], bad, length=None)
    elif variant == 5:
        raw = w.http_request("POST", path, heads + [("Transfer-Encoding", "chunked")], body, length=len(body))
    elif variant == 6:  # a chunked body beyond max_body_bytes
        chunk = b"a" * 16000
        data = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(6)) + b"0\r\n\r\n"
        raw = w.http_request("POST", path, heads + [("Transfer-Encoding", "chunked")], data, length=None)
    else:
        raw = w.http_request("POST", path, heads + [("Expect", "100-continue")], body)
    w.http_exchange(raw, seconds=2.0)


def a_http_pipeline(w: Worker):
    r = w.rng
    n = r.randint(2, 20)
    raw = b""
    for _ in range(n):
        path = r.choice(API_GET[:5] + ["/healthz", "/metrics"]).format(s=w.known_session_id())
        raw += w.http_request("GET", path, [w.auth("viewer")], close=False)
    w.http_exchange(raw, responses=n, seconds=3.0)


def ws_key(w):
    return base64.b64encode(w.rbytes(16)).decode()


def ws_frame(payload: bytes, opcode=1, fin=True, mask=True, rsv=0, length=None, rng=None) -> bytes:
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload) if length is None else length
    if n < 126:
        hdr = bytes([b0, (0x80 if mask else 0) | n])
    elif n < 65536:
        hdr = bytes([b0, (0x80 if mask else 0) | 126]) + struct.pack(">H", n)
    else:
        hdr = bytes([b0, (0x80 if mask else 0) | 127]) + struct.pack(">Q", n & MASK64)
    if not mask:
        return hdr + payload
    m = (rng or random).randbytes(4)
    return hdr + m + bytes(c ^ m[i % 4] for i, c in enumerate(payload))


def ws_upgrade(w: Worker, path="/api/v1/feed", key=None, version="13", extra=()):
    heads = [("Upgrade", "websocket"), ("Connection", "Upgrade")]
    if key is not False:
        heads.append(("Sec-WebSocket-Key", key or ws_key(w)))
    if version is not None:
        heads.append(("Sec-WebSocket-Version", version))
    return w.http_request("GET", path, heads + list(extra), close=False)


def ws_open(w: Worker, rcvbuf=None):
    """A WebSocket upgraded to the feed, or None."""
    s = w.connect("http", rcvbuf=rcvbuf)
    s.sendall(ws_upgrade(w))
    data, _ = recv_some(s, time.monotonic() + w.t(), stop=lambda d: b"\r\n\r\n" in d)
    if not data.startswith(b"HTTP/1.1 101"):
        status = data[9:12].decode("latin-1", "replace") if data else "none"
        w.note(f"upgrade:{status}")
        if status == "503":
            w.sh.refused("http")
        return None, b""
    w.note("upgraded")
    return s, data[data.find(b"\r\n\r\n") + 4:]


def feed_request_json(w: Worker, role=None, **sub):
    d = {"token": w.user_token(role), "subscribe": sub}
    return json.dumps(d).encode()


def a_ws_bad_upgrade(w: Worker):
    r = w.rng
    variant = r.randrange(9)
    if variant == 0:
        raw = ws_upgrade(w, key=r.choice(["abc", "", "!!!!", base64.b64encode(b"short").decode(), "a" * 5000]))
    elif variant == 1:
        raw = ws_upgrade(w, key=False)
    elif variant == 2:
        raw = ws_upgrade(w, version=r.choice(["8", "12", "14", "", "13, 8", "x"]))
    elif variant == 3:
        raw = ws_upgrade(w, version=None)
    elif variant == 4:
        raw = ws_upgrade(w, path=r.choice(["/api/v1/sessions", "/healthz", "/api/v1/feed/x", "/", "/api/v1/feed?x=1"]))
    elif variant == 5:
        raw = w.http_request("POST", "/api/v1/feed", [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                                      ("Sec-WebSocket-Key", ws_key(w)), ("Sec-WebSocket-Version", "13")])
    elif variant == 6:
        raw = w.http_request("GET", "/api/v1/feed", [("Upgrade", "websocket"), ("Sec-WebSocket-Key", ws_key(w)),
                                                     ("Sec-WebSocket-Version", "13")])
    elif variant == 7:
        raw = w.http_request("GET", "/api/v1/feed", [("Upgrade", "h2c"), ("Connection", "Upgrade")])
    else:
        raw = ws_upgrade(w, extra=[("Sec-WebSocket-Extensions", "permessage-deflate; " + "x" * 3000),
                                   ("Sec-WebSocket-Protocol", "a, b, " + "c" * 200)])
    resps, data, _ = w.http_exchange(raw, seconds=1.5)
    if data.startswith(b"HTTP/1.1 101"):  # some of these are valid enough: send garbage afterwards
        s = w.ephemeral[-1] if w.ephemeral else None
        if s is not None:
            try:
                s.sendall(w.rbytes(r.randint(1, 500)))
                recv_some(s, time.monotonic() + 0.5)
            except OSError:
                pass


def a_ws_garbage(w: Worker):
    r = w.rng
    s, _ = ws_open(w)
    if s is None:
        return
    variant = r.randrange(16)
    if variant == 0:
        data = w.rbytes(r.randint(1, 2000))
    elif variant == 1:
        data = ws_frame(feed_request_json(w), mask=False)
    elif variant == 2:
        data = ws_frame(feed_request_json(w), rsv=r.randint(1, 7), rng=r)
    elif variant == 3:
        data = ws_frame(b"x", opcode=r.choice([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), rng=r)
    elif variant == 4:
        data = ws_frame(b"p" * 200, opcode=9, rng=r)  # a ping over 125 bytes
    elif variant == 5:
        data = ws_frame(b"p", opcode=9, fin=False, rng=r)  # a fragmented control frame
    elif variant == 6:
        data = ws_frame(b"", length=r.choice([1 << 63, MASK64, 1 << 40, 70000]), rng=r) + w.rbytes(100)
    elif variant == 7:
        data = ws_frame(feed_request_json(w), opcode=2, rng=r)  # binary
    elif variant == 8:
        data = ws_frame(b'{"token":"' + w.bad_utf8() + b'"}', rng=r)
    elif variant == 9:
        data = ws_frame(b"x" * r.choice([16385, 20000, 60000]), rng=r)  # over 16 KiB
    elif variant == 10:
        data = ws_frame(b"abc", opcode=0, rng=r)  # continuation with nothing to continue
    elif variant == 11:
        data = ws_frame(b'{"tok', fin=False, rng=r) + ws_frame(b"p", opcode=9, rng=r) + ws_frame(b'en":"x"}', opcode=0, rng=r)
    elif variant == 12:
        data = ws_frame(struct.pack(">H", r.choice([0, 999, 1005, 1006, 5000, 65535])) + b"bye", opcode=8, rng=r)
    elif variant == 13:
        data = ws_frame(r.choice([b"{}", b"null", b"[]", b'{"token":1}', b'{"token":"' + token().encode() + b'"}',
                                  b'{"token":"' + w.sh.dev_token.encode() + b'"}', b"{" * 5000,
                                  feed_request_json(w, categories=["EVENT_CATEGORY_NOPE"]),
                                  feed_request_json(w, vitals_interval_ms=3600001),
                                  feed_request_json(w, heartbeat_ms=r.choice([1, 999, 60001, -1])),
                                  feed_request_json(w, resume_after=r.choice(["-1", "abc", "18446744073709551616", 1e30])),
                                  feed_request_json(w, bogus=1)]), rng=r)
    elif variant == 14:
        data = b"".join(ws_frame(b"p", opcode=9, rng=r) for _ in range(200))  # a ping flood
    else:
        data = ws_frame(feed_request_json(w), rng=r) + ws_frame(w.rbytes(50), opcode=1, rng=r)
    s.sendall(data)
    got, eof = recv_some(s, time.monotonic() + 1.0)
    if b"closing" in got:
        m = re.search(rb'"error":"(FEED_ERROR_[A-Z_]+)"', got)
        w.note("ws:" + (m.group(1).decode() if m else "closing"))
    w.note("closed" if eof else "open")


def a_ws_stalled(w: Worker):
    """A valid WebSocket feed subscription that stops reading."""
    r = w.rng
    s, _ = ws_open(w, rcvbuf=4096)
    if s is None:
        return
    s.sendall(ws_frame(feed_request_json(w, r.choice(["viewer", "nurse", "admin"]),
                                         vitals_interval_ms=r.choice([0, 1, 100, 1000]),
                                         heartbeat_ms=r.choice([0, 1000])), rng=r))
    w.linger(s, r.uniform(10, 40))


def a_ws_reader(w: Worker):
    r = w.rng
    s, rest = ws_open(w)
    if s is None:
        return
    sub = {"vitals_interval_ms": r.choice([0, 100, 2000])}
    if r.random() < 0.4 and w.sh.max_event_id:
        sub["resume_after"] = str(max(0, w.sh.max_event_id - r.randint(0, 3000)))
    s.sendall(ws_frame(feed_request_json(w, **sub), rng=r))
    data, eof = recv_some(s, time.monotonic() + r.uniform(0.5, 3.0))
    for m in re.finditer(rb'"(?:last_)?event_id":"(\d+)"', rest + data):
        w.sh.learn_event(int(m.group(1)))
    w.note("got data" if data else "no data")
    if r.random() < 0.5:
        s.sendall(ws_frame(struct.pack(">H", 1000), opcode=8, rng=r))
        recv_some(s, time.monotonic() + 0.5)


def a_http_slowloris(w: Worker):
    for _ in range(w.rng.randint(1, 4)):
        s = w.connect("http")
        if w.rng.random() < 0.3:
            w.note("silent")
            w.linger(s, w.rng.uniform(3, 15))
            continue
        w.note("drip")
        data = b"GET /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"s" * 60 + b"\r\n"
        w.linger(s, w.rng.uniform(3, 15), drip_tick, {"data": data, "pos": 0, "next": 0.0})


# --- feed attacks ---


def feed_drain(w: Worker, s, seconds):
    """Reads feed frames for a while; notes and learns from them."""
    data, eof = recv_some(s, time.monotonic() + seconds)
    try:
        for payload in FrameReader().feed(data):
            f = parse_fields(payload)
            if 1 in f:
                w.note("snapshot")
                w.sh.learn_event(first(parse_fields(f[1][0]), 1, 0))
            elif 2 in f:
                ev = parse_fields(first(parse_fields(f[2][0]), 1, b""))
                w.sh.learn_event(first(ev, 21, 0))
            elif 4 in f:
                code = FEED_ERRORS.get(first(parse_fields(f[4][0]), 1, 0), "?")
                w.note("feed:" + code)
                if code == "TOO_MANY_CONNECTIONS":
                    w.sh.refused("feed")
            elif 5 in f:
                w.note("resumed")
                w.sh.learn_event(first(parse_fields(f[5][0]), 1, 0))
            elif 6 in f:
                w.sh.learn_event(first(parse_fields(f[6][0]), 1, 0))
    except ValueError:
        w.note("undecodable (cut off?)")
    if eof:
        w.note("closed")
    return data, eof


def random_subscribe(w: Worker, valid=True):
    r = w.rng
    chairs = [] if r.random() < 0.5 else [w.fuzz_chair() for _ in range(r.randint(1, 3))]
    cats = [] if r.random() < 0.5 else [r.randint(1, 4) for _ in range(r.randint(1, 3))]
    if not valid:
        if r.random() < 0.5:
            cats.append(r.choice([0, 5, 99, -1, MASK64]))
        if r.random() < 0.3:
            chairs.append(r.choice(w.sh.odd_chairs))
    return m_subscribe(chairs, [w.known_session_id()] if r.random() < 0.2 else [], cats,
                       r.choice([0, 1, 100, 1000]) if valid else r.choice([0, 3600001, MASK64, 1 << 32]),
                       None, r.choice([0, 1000]) if valid else r.choice([1, 999, 60001, MASK64]))


def a_feed_garbage(w: Worker):
    r = w.rng
    s = w.connect("feed")
    s.sendall(r.choice([
        w.rbytes(r.randint(1, 3000)), b"\x00", b"\x80" * 11, delimited(w.rbytes(r.randint(1, 300))),
        delimited(f_bytes(1, w.bad_utf8())), delimited(b""), b"GET / HTTP/1.1\r\n\r\n",
        delimited(f_bytes(1, w.user_token()) + f_bytes(2, w.rbytes(r.randint(1, 60)))),
    ]))
    feed_drain(w, s, 1.0)


def a_feed_bad_token(w: Worker):
    r = w.rng
    tok = r.choice(["", token(), w.sh.dev_token, w.user_token()[:-1], "x" * 10000])
    s = w.connect("feed")
    s.sendall(delimited(m_feed_request(tok, random_subscribe(w))))
    feed_drain(w, s, 1.0)


def a_feed_slow(w: Worker):
    """A valid subscription that never reads, or a connection that never subscribes."""
    r = w.rng
    s = w.connect("feed", rcvbuf=4096)
    if r.random() < 0.25:
        w.note("silent")
        w.linger(s, r.uniform(3, 15))
        return
    s.sendall(delimited(m_feed_request(w.user_token(), m_subscribe(vitals_ms=r.choice([0, 1, 100]),
                                                                    heartbeat_ms=r.choice([0, 1000])))))
    w.linger(s, r.uniform(10, 40))


def a_feed_resume(w: Worker):
    r = w.rng
    top = w.sh.max_event_id
    after = r.choice([0, 1, top, max(0, top - r.randint(1, 100)), max(0, top - r.randint(100, 100000)), top + 1,
                      top + 1000, MASK64, 1 << 63, r.getrandbits(32)])
    sub = random_subscribe(w) + f_varint(5, after)
    s = w.connect("feed")
    s.sendall(delimited(m_feed_request(w.user_token(), sub)))
    feed_drain(w, s, r.uniform(0.5, 2.0))


def a_feed_huge(w: Worker):
    r = w.rng
    s = w.connect("feed")
    variant = r.randrange(4)
    if variant == 0:
        s.sendall(uvarint(r.choice([1 << 20, 1 << 24, 1 << 31, MASK64])) + w.rbytes(r.randint(0, 10000)))
    elif variant == 1:
        sub = m_subscribe([w.fuzz_chair() for _ in range(r.choice([1000, 5000]))])
        s.sendall(delimited(m_feed_request(w.user_token(), sub)))
    elif variant == 2:
        sub = m_subscribe(sessions=[r.getrandbits(64) for _ in range(r.choice([1000, 10000]))],
                          categories=[r.randint(1, 4) for _ in range(1000)])
        s.sendall(delimited(m_feed_request(w.user_token(), sub)))
    else:
        s.sendall(delimited(m_feed_request(w.user_token(), random_subscribe(w, valid=False))))
    feed_drain(w, s, 1.5)


def a_feed_reader(w: Worker):
    r = w.rng
    s = w.connect("feed")
    s.sendall(delimited(m_feed_request(w.user_token(), random_subscribe(w))))
    if r.random() < 0.3:
        s.sendall(w.rbytes(r.randint(1, 100)))  # bytes after the request are ignored
    feed_drain(w, s, r.uniform(0.5, 3.0))
    if r.random() < 0.3:
        hard_reset(s)


def a_feed_bitflip(w: Worker):
    r = w.rng
    data = bytearray(delimited(m_feed_request(w.user_token(), random_subscribe(w))))
    for _ in range(r.randint(1, 5)):
        data[r.randrange(len(data))] ^= 1 << r.randrange(8)
    s = w.connect("feed")
    s.sendall(bytes(data))
    feed_drain(w, s, 1.0)


# (kind, weight, function)
# Attack kinds to run (name prefixes, from --only); empty: all of them.
ONLY: list = []

ATTACKS = [
    ("ingest.random_bytes", 3, a_ingest_random_bytes),
    ("ingest.random_payload", 3, a_ingest_random_payload),
    ("ingest.huge_length", 2, a_ingest_huge_length),
    ("ingest.malformed_varint", 2, a_ingest_malformed_varint),
    ("ingest.truncated", 2, a_ingest_truncated),
    ("ingest.bad_hello", 4, a_ingest_bad_hello),
    ("ingest.session", 10, a_ingest_session),
    ("ingest.flood", 1, a_ingest_flood),
    ("ingest.bitflip", 4, a_ingest_bitflip),
    ("ingest.slowloris", 1.5, a_ingest_slowloris),
    ("ingest.half_close", 2, a_ingest_half_close),
    ("ingest.reset", 2, a_ingest_reset),
    ("control.garbage", 3, a_control_garbage),
    ("control.bad_token", 3, a_control_bad_token),
    ("control.commands", 7, a_control_commands),
    ("control.clinic", 3, a_control_clinic),
    ("control.bitflip", 2, a_control_bitflip),
    ("control.idle", 1, a_control_idle),
    ("http.malformed", 3, a_http_malformed),
    ("http.huge_headers", 2, a_http_huge_headers),
    ("http.bad_method", 2, a_http_bad_method),
    ("http.dup_query", 2, a_http_dup_query),
    ("http.random_path", 3, a_http_random_path),
    ("http.bad_auth", 3, a_http_bad_auth),
    ("http.routes", 7, a_http_routes),
    ("http.framing", 2, a_http_framing),
    ("http.pipeline", 1, a_http_pipeline),
    ("http.ws_bad_upgrade", 2, a_ws_bad_upgrade),
    ("http.ws_garbage", 2, a_ws_garbage),
    ("http.ws_stalled", 1, a_ws_stalled),
    ("http.ws_reader", 1, a_ws_reader),
    ("http.slowloris", 1, a_http_slowloris),
    ("feed.garbage", 3, a_feed_garbage),
    ("feed.bad_token", 2, a_feed_bad_token),
    ("feed.slow", 1.5, a_feed_slow),
    ("feed.resume", 3, a_feed_resume),
    ("feed.huge", 2, a_feed_huge),
    ("feed.reader", 2, a_feed_reader),
    ("feed.bitflip", 2, a_feed_bitflip),
]


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def scrape_metrics(port):
    status, body = http_get(port, "/metrics", timeout=3.0)
    if status != 200:
        return {}
    out = {}
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, value = line.rpartition(" ")
        try:
            out[name] = float(value)
        except ValueError:
            pass
    return out


def describe_exit(code):
    if isinstance(code, int) and code < 0:
        try:
            return f"{code} (signal {signal.Signals(-code).name})"
        except ValueError:
            return str(code)
    return str(code)


def fmt_mib(kib):
    return "?" if kib is None else f"{kib / 1024:.1f} MiB"


def slope_mib_per_min(series):
    """Least-squares slope of (seconds, KiB) samples, in MiB per minute; None for fewer than 3."""
    if len(series) < 3:
        return None
    n = len(series)
    mt = sum(t for t, _ in series) / n
    mk = sum(k for _, k in series) / n
    var = sum((t - mt) ** 2 for t, _ in series)
    if var == 0:
        return None
    cov = sum((t - mt) * (k - mk) for t, k in series)
    return cov / var * 60.0 / 1024.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vigild", default=str(REPO / "build" / "daemon" / "vigild"), help="the vigild binary")
    ap.add_argument("--minutes", type=float, default=10.0, help="how long to fuzz (default 10)")
    ap.add_argument("--seed", type=int, default=None, help="seed of the attackers' choices (default: random)")
    ap.add_argument("--workers", type=int, default=8, help="concurrent attacker threads (default 8)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--only", action="append", default=[], metavar="PREFIX",
                    help="run only the attack kinds whose name starts with PREFIX (repeatable), to narrow down a finding")
    ap.add_argument("--max-conns", type=int, default=16, help="connections open at once per worker (default 16)")
    ap.add_argument("--io-timeout", type=float, default=2.0, help="attackers' socket timeout, s (default 2)")
    ap.add_argument("--ack-timeout", type=float, default=2.0, help="bystander's bound on an ack, s (default 2)")
    ap.add_argument("--period", type=float, default=0.2, help="bystander's batch period, s (default 0.2)")
    ap.add_argument("--warmup", type=float, default=0.2, help="warm-up fraction of the run (default 0.2)")
    ap.add_argument("--rss-growth-pct", type=float, default=20.0,
                    help="allowed RSS growth over the warm-up maximum, percent (default 20)")
    ap.add_argument("--rss-growth-mib", type=float, default=32.0,
                    help="allowed RSS growth over the warm-up maximum, MiB (default 32); the larger bound applies")
    ap.add_argument("--rss-interval", type=float, default=2.0, help="RSS sampling interval, s (default 2)")
    ap.add_argument("--log-max-mib", type=float, default=256.0,
                    help="vigild's log is rotated once (to vigild.log.1) when it passes this size (default 256)")
    args = ap.parse_args()
    ONLY.extend(args.only)
    if ONLY and not any(k.startswith(p) for k, _, _ in ATTACKS for p in ONLY):
        print(f"fuzz-ports: no attack kind starts with {ONLY}", file=sys.stderr)
        return 2

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    binary = Path(args.vigild)
    if not binary.is_absolute():
        binary = (REPO / binary) if not binary.exists() else binary.resolve()
    if not binary.exists():
        print(f"fuzz-ports: no vigild at {binary}", file=sys.stderr)
        return 2
    duration = args.minutes * 60.0
    sys.setswitchinterval(0.001)  # the bystander thread gets the interpreter promptly

    tmp = Path(tempfile.mkdtemp(prefix="vigil-fuzz-"))
    st = os.stat(binary)
    print(f"fuzz-ports: seed {seed}, {args.workers} workers, {args.minutes:g} min, temp dir {tmp}")
    print(f"fuzz-ports: vigild {binary} ({st.st_size} bytes, modified "
          f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(st.st_mtime))}), run from a copy in the temp dir")
    daemon = Daemon(binary, tmp, int(args.log_max_mib * 1024 * 1024))
    print(f"fuzz-ports: vigild log: {daemon.log_path}")
    stop = threading.Event()
    bystander = None
    workers: list = []
    rss: list = []  # (seconds since start, KiB)
    mem_parts: list = []  # (seconds since start, {VmRSS, RssAnon, RssFile, RssShmem: KiB})
    fds: list = []  # vigild's open descriptors, sampled with RSS
    probes = {"ok": 0, "failed": 0, "max_latency": 0.0, "failures": []}
    verdict = {}
    try:
        try:
            daemon.start()
        except (RuntimeError, OSError) as e:
            print(f"fuzz-ports: cannot start vigild: {e}", file=sys.stderr)
            for line in daemon.log_tail():
                print("  | " + line, file=sys.stderr)
            return 2
        print(f"fuzz-ports: vigild pid {daemon.pid}, ports {daemon.ports}")
        shared = Shared(daemon, stop, args.io_timeout)
        bystander = Bystander(daemon.ports["ingest"], daemon.bystander[0], daemon.device_token,
                              daemon.bystander[1], args.period, args.ack_timeout, stop)
        t0 = time.monotonic()
        rss.append((0.0, daemon.rss_kib()))
        fds.append(daemon.fd_count())
        bystander.start()
        time.sleep(0.5)
        workers = [Worker(i, shared, seed * 1000 + i, args.max_conns) for i in range(args.workers)]
        for w in workers:
            w.start()

        next_rss = t0 + args.rss_interval
        next_probe = t0 + 5.0
        next_report = t0 + 30.0
        died = False
        while True:
            now = time.monotonic()
            if now - t0 >= duration:
                break
            if not daemon.alive():
                died = True
                print(f"fuzz-ports: vigild died after {now - t0:.1f} s with {daemon.proc.returncode}")
                break
            if now >= next_rss:
                mem = daemon.memory_kib()
                rss.append((now - t0, mem.get("VmRSS")))
                mem_parts.append((now - t0, mem))
                fds.append(daemon.fd_count())
                next_rss += args.rss_interval
                daemon.cap_log()
            if now >= next_probe:
                next_probe = now + 5.0
                p0 = time.monotonic()
                status, body = http_get(daemon.ports["http"], "/healthz", timeout=3.0)
                lat = time.monotonic() - p0
                if status == 200:
                    probes["ok"] += 1
                    probes["max_latency"] = max(probes["max_latency"], lat)
                else:
                    probes["failed"] += 1
                    if len(probes["failures"]) < 20:
                        probes["failures"].append(f"t={now - t0:.0f}s: {status} {body[:120]!r}")
            if now >= next_report:
                next_report += 30.0
                runs = sum(s.runs for w in workers for s in list(w.stats.values()))
                conns = sum(s.conns for w in workers for s in list(w.stats.values()))
                print(f"  t={now - t0:5.0f}s  attacks {runs}  connections {conns}  rss {fmt_mib(rss[-1][1])}  "
                      f"bystander sent {bystander.sent} acked {bystander.acked} late {bystander.late} "
                      f"max ack {bystander.max_latency * 1000:.0f} ms  failures {len(bystander.failures)}",
                      flush=True)
            time.sleep(min(0.25, max(0.0, next_rss - time.monotonic())))
        run_seconds = time.monotonic() - t0

        # Stop the attackers, then the bystander (which waits for its last acks).
        stop.set()
        for w in workers:
            w.join(timeout=30)
        stuck = [w.name for w in workers if w.is_alive()]
        bystander.finished.wait(timeout=args.ack_timeout + 15)
        if daemon.alive():
            rss.append((time.monotonic() - t0, daemon.rss_kib()))

        # Let the daemon close what the attackers left (handshake and close timeouts), then look.
        quiet = {}
        if daemon.alive():
            deadline = time.monotonic() + 12.0
            while time.monotonic() < deadline:
                quiet = scrape_metrics(daemon.ports["http"])
                open_now = {l: quiet.get(f'vigil_connections{{listener="{l}"}}') for l in
                            ("ingest", "control", "feed", "http")}
                if (open_now["ingest"] or 0) <= 0 and (open_now["control"] or 0) <= 0 and (
                        open_now["feed"] or 0) <= 0 and (open_now["http"] or 0) <= 1:
                    break
                time.sleep(1.0)

        # Check 1: alive and healthy.
        alive = daemon.alive() and not died
        health = None
        if alive:
            for _ in range(3):
                health, body = http_get(daemon.ports["http"], "/healthz", timeout=5.0)
                if health == 200:
                    break
                time.sleep(1.0)
        end_rss = daemon.rss_kib() if alive else None
        end_fds = daemon.fd_count() if alive else None
        exit_code = daemon.stop()
        clean_exit = exit_code == 0
        verdict["no crash"] = alive and health == 200 and clean_exit

        # Check 2: RSS.
        samples = [(t, k) for t, k in rss if k is not None]
        warm_end = run_seconds * args.warmup
        warm = [k for t, k in samples if t <= warm_end] or [k for _, k in samples[:1]]
        after = [k for t, k in samples if t > warm_end]
        warm_max = max(warm) if warm else None
        bound = None
        rss_ok = False
        if warm_max is not None:
            bound = warm_max + max(warm_max * args.rss_growth_pct / 100.0, args.rss_growth_mib * 1024)
            rss_ok = all(k <= bound for k in after)
        verdict["RSS flat"] = rss_ok

        # Check 3: the bystander.
        b = bystander
        verdict["bystander acked"] = (not b.failures and b.late == 0 and b.sent > 0 and b.acked == b.sent)

        # --- summary ---
        print()
        print(f"=== fuzz-ports summary (seed {seed}, {run_seconds / 60:.1f} min, {args.workers} workers) ===")
        total = collections.defaultdict(KindStats)
        for w in workers:
            for k, s in w.stats.items():
                t = total[k]
                t.runs += s.runs
                t.conns += s.conns
                t.exc.update(s.exc)
                t.outcomes.update(s.outcomes)
        print(f"{'attack kind':24} {'runs':>7} {'conns':>7}  {'exceptions':28} most frequent outcomes")
        for k, _, _ in ATTACKS:
            s = total.get(k)
            if not s:
                print(f"{k:24} {0:7} {0:7}")
                continue
            exc = ", ".join(f"{n} {c}" for n, c in s.exc.most_common(2))
            outs = ", ".join(f"{n} {c}" for n, c in s.outcomes.most_common(4))
            print(f"{k:24} {s.runs:7} {s.conns:7}  {exc[:28]:28} {outs}")
        runs = sum(s.runs for s in total.values())
        conns = sum(s.conns for s in total.values())
        print(f"{'total':24} {runs:7} {conns:7}")
        if stuck:
            print(f"workers still running after the stop (fuzzer bug): {stuck}")
        if shared.script_errors:
            print("exceptions other than socket errors inside attacks (malformed replies, or bugs of this script):")
            for (k, e), tb in shared.script_errors.items():
                print(f"  {k}: {e}: " + tb.strip().splitlines()[-1])
        if shared.refusals:
            print("refused at a listener's connection limit (seen by attackers): "
                  + ", ".join(f"{k} {v}" for k, v in sorted(shared.refusals.items())))
        if quiet:
            def m(name):
                v = quiet.get(name)
                return "?" if v is None else f"{v:.0f}"
            parts = []
            for l in ("ingest", "control", "feed", "http"):
                lab = '{listener="%s"}' % l
                parts.append(f"{l}: open {m('vigil_connections' + lab)} accepted "
                             f"{m('vigil_connections_accepted_total' + lab)} refused "
                             f"{m('vigil_connections_refused_total' + lab)}")
            print("daemon metrics after the attack: " + ", ".join(parts))
            print(f"  samples accepted {m('vigil_samples_accepted_total')}, rejected "
                  f"{m('vigil_samples_rejected_total')}, batches {m('vigil_batches_accepted_total')}, protocol "
                  f"errors {m('vigil_protocol_errors_total')}, handshakes refused "
                  f"{m('vigil_handshakes_refused_total')}, sessions open {m('vigil_sessions_open')}, feed "
                  f"subscribers dropped {m('vigil_feed_subscribers_dropped_total')}, feed subscribers now "
                  f"{m('vigil_feed_subscribers')} ({m('vigil_feed_queued_bytes')} bytes queued)")
            lingering = {l: quiet.get(f'vigil_connections{{listener="{l}"}}') or 0 for l in
                         ("ingest", "control", "feed")}
            lingering["http"] = max(0, (quiet.get('vigil_connections{listener="http"}') or 0) - 1)
            if any(v > 0 for v in lingering.values()):
                print(f"  WARNING: connections still open 12 s after the attackers closed theirs: {lingering}")
        print(f"health probes during the run: {probes['ok']} ok, {probes['failed']} failed, "
              f"slowest ok {probes['max_latency'] * 1000:.0f} ms")
        for f in probes["failures"]:
            print(f"  probe failed {f}")

        lat = sorted(b.latencies)
        p50 = lat[len(lat) // 2] * 1000 if lat else 0
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else 0
        print(f"bystander: {b.sent} batches sent, {b.acked} acked, {b.late} late (> {args.ack_timeout:g} s), "
              f"ack latency p50 {p50:.0f} ms p99 {p99:.0f} ms max {b.max_latency * 1000:.0f} ms, "
              f"{b.connects} connection(s), reconnects after a documented close: "
              f"{dict(b.reconnects) or 'none'}, send slips {b.send_slips}")
        for t, _, text in b.failures[:20]:
            print(f"  bystander t={t - t0:.1f}s: {text}")
        if len(b.failures) > 20:
            print(f"  ... {len(b.failures) - 20} more")

        print(f"RSS (VmRSS): start {fmt_mib(samples[0][1] if samples else None)}, warm-up max {fmt_mib(warm_max)} "
              f"(first {warm_end:.0f} s), end {fmt_mib(end_rss)}, max after warm-up "
              f"{fmt_mib(max(after) if after else None)}, bound {fmt_mib(bound)}, max "
              f"{fmt_mib(max(k for _, k in samples) if samples else None)}, {len(samples)} samples")
        known_fds = [n for n in fds if n is not None]
        if known_fds:
            print(f"vigild open descriptors: start {known_fds[0]}, max during the run {max(known_fds)}, "
                  f"end (attackers gone) {end_fds if end_fds is not None else '?'}")
        if samples:
            step = max(1, len(samples) // 12)
            print("  series: " + "  ".join(f"{t:.0f}s {k / 1024:.1f}" for t, k in samples[::step]) + " (MiB)")
        for key in ("RssAnon", "RssFile", "RssShmem"):
            series = [(t, m[key]) for t, m in mem_parts if key in m]
            if series:
                step = max(1, len(series) // 12)
                print(f"  {key}: " + "  ".join(f"{t:.0f}s {k / 1024:.1f}" for t, k in series[::step]) + " (MiB)")
        for key in ("VmRSS", "RssAnon"):
            series = [(t, m[key]) for t, m in mem_parts if key in m and t > warm_end]
            for label, part in (("the time after the warm-up", series), ("the last half of the run",
                                                                [(t, k) for t, k in series if t > run_seconds / 2])):
                slope = slope_mib_per_min(part)
                if slope is not None:
                    print(f"  {key} trend over {label}: {slope:+.2f} MiB/min (least squares, {len(part)} samples)")
        how = "died during the run" if died else ("was dead at the end" if not alive else "stopped with SIGTERM")
        print(f"vigild: {how}, exit code {describe_exit(exit_code)}; log {daemon.log_path}"
              + (f" (rotated {daemon.rotations} time(s), older part in vigild.log.1)" if daemon.rotations else ""))
        for name, ok in verdict.items():
            detail = ""
            if name == "no crash" and not ok:
                detail = (f" (alive at end: {alive}, /healthz: {health}, exit code: {describe_exit(exit_code)})")
            print(f"CHECK {name:16} {'PASS' if ok else 'FAIL'}{detail}")
        if b.failures:
            w0 = b.failures[0][1]
            near = daemon.log_between(w0 - args.ack_timeout - 2.0, w0 + 1.0, 40)
            if near:
                print(f"vigild log around the bystander's first failure ({len(near)} lines):")
                for line in near:
                    print("  | " + line[:300])
        if not all(verdict.values()):
            tail = daemon.log_tail(30)
            if tail:
                print("last lines of the vigild log:")
                for line in tail:
                    print("  | " + line)
        return 0 if all(verdict.values()) else 1
    except KeyboardInterrupt:
        print("fuzz-ports: interrupted", file=sys.stderr)
        return 2
    finally:
        stop.set()
        if daemon.alive():
            daemon.stop()
        failed = not verdict or not all(verdict.values())
        if args.keep or failed:
            print(f"fuzz-ports: kept {tmp} (vigild.log, vigild.yaml, data/timeline.db)")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            print(f"fuzz-ports: removed {tmp} with its log (pass --keep to keep them)")


if __name__ == "__main__":
    sys.exit(main())
