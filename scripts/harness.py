"""What the end-to-end scripts share: a tally of checks, free ports, and the `phim` processes
they start (with their logs shown when a check failed, and their work folder removed when all
passed), and a real PNG to upload."""
import http.client
import json
import os
import select
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
import zlib


class Checks:
    """Counts checks and prints each; `summary` is the 'N passed, N failed' line CI reads."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def __call__(self, name, condition, detail=""):
        if condition:
            self.passed += 1
            print(f"  ok    {name}")
        else:
            self.failed += 1
            print(f"  FAIL  {name} {detail}")

    def summary(self, label):
        print(f"{label}: {self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(base, seconds=90):
    """Waits until `base/healthz` answers 200; returns whether it did in time."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


class Processes:
    """`phim` processes started in a fresh work folder, each logging to its own file."""

    def __init__(self, phim, prefix):
        self.phim = phim
        self.work = tempfile.mkdtemp(prefix=prefix)
        self.running = []
        self.logs = []

    def start(self, args, env, log_name):
        log = open(os.path.join(self.work, log_name), "w")
        self.logs.append(log_name)
        self.running.append(subprocess.Popen([self.phim, *args], env={**os.environ, **env}, stdout=log,
                                             stderr=subprocess.STDOUT, cwd=self.work))

    def run(self, args, env):
        """Runs a `phim` command to completion and returns its result."""
        return subprocess.run([self.phim, *args], env={**os.environ, **env}, cwd=self.work,
                              capture_output=True, text=True, timeout=120)

    def log(self, log_name):
        return open(os.path.join(self.work, log_name)).read()

    def stop(self, show_logs):
        """Stops every process; shows the end of each log if `show_logs`, else removes the folder."""
        for process in self.running:
            process.terminate()
        for process in self.running:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        if show_logs:
            for name in self.logs:
                print(f"--- {name} (last 40 lines)")
                print("".join(self.log(name).splitlines(keepends=True)[-40:]))
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def png(width, height):
    """A real PNG (a warm gradient), for the image-to-video upload."""
    rows = b"".join(b"\x00" + bytes(channel for x in range(width)
                                    for channel in (255, 120 + x * 100 // width, 60 + y * 150 // height))
                    for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def stream_upload(base, path, headers, body, piece=65536):
    """Sends `body` chunked over a raw socket and, like curl, stops as soon as an answer arrives.
    Returns the status, the JSON answer and how many bytes of the body the server let in."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nTransfer-Encoding: chunked\r\n"
    sock.sendall((head + "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n").encode())
    sent, pending = 0, b""
    while sent < len(body) or pending:
        readable, writable, _ = select.select([sock], [sock], [], 10)
        if readable or not writable:
            break  # an answer came (or the server stopped reading): stop sending
        if not pending:
            chunk = body[sent:sent + piece]
            pending = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
            sent += len(chunk)
        pending = pending[sock.send(pending):]
    else:
        sock.sendall(b"0\r\n\r\n")
    response = http.client.HTTPResponse(sock)
    response.begin()
    answer = json.loads(response.read() or b"{}")
    sock.close()
    return response.status, answer, sent
