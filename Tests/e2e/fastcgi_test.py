#!/usr/bin/env python3
"""Speaks FastCGI straight to a `phim fcgi` socket, past nginx, to check what nginx would
otherwise hide: the process's own body limit (refused before the body is read), clients that
vanish mid-request or send garbage, and that the process answers afterwards.

    python3 Tests/e2e/fastcgi_test.py --socket DATA/run/phim-1.sock
Standard library only; prints `N passed, N failed` and exits non-zero on a failure.
"""
import argparse
import socket
import struct
import json

PASSED, FAILED = [], []
BEGIN, PARAMS, STDIN, STDOUT, END = 1, 4, 5, 6, 3


def check(name, condition, detail=""):
    (PASSED if condition else FAILED).append(name)
    print(("ok   " if condition else "FAIL ") + name + ("" if condition or not detail else f"  ({detail})"), flush=True)


def record(kind, content, request_id=1):
    padding = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBB", 1, kind, request_id, len(content), padding, 0) + content + b"\0" * padding


def pair(name, value):
    name, value = name.encode(), value.encode()
    def length(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return length(len(name)) + length(len(value)) + name + value


def request(path, method="GET", body=b"", headers=None, declared_length=None, send_body=True):
    params = {"REQUEST_METHOD": method, "REQUEST_URI": path, "DOCUMENT_URI": path, "QUERY_STRING": "",
              "REMOTE_ADDR": "127.0.0.1", "CONTENT_LENGTH": str(len(body) if declared_length is None else declared_length),
              "CONTENT_TYPE": "application/json", "REQUEST_ID": "fastcgi-test"}
    params.update(headers or {})
    data = record(BEGIN, struct.pack(">HB5x", 1, 0))
    encoded = b"".join(pair(k, v) for k, v in params.items())
    data += record(PARAMS, encoded) + record(PARAMS, b"")
    if send_body:
        for start in range(0, len(body), 65535):
            data += record(STDIN, body[start:start + 65535])
        data += record(STDIN, b"")
    return data


def exchange(sock_path, payload, timeout=10):
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(timeout)
    connection.connect(sock_path)
    connection.sendall(payload)
    output = b""
    buffer = b""
    while True:
        chunk = connection.recv(65536)
        if not chunk:
            break
        buffer += chunk
        while len(buffer) >= 8:
            _, kind, _, length, padding, _ = struct.unpack(">BBHHBB", buffer[:8])
            if len(buffer) < 8 + length + padding:
                break
            content = buffer[8:8 + length]
            buffer = buffer[8 + length + padding:]
            if kind == STDOUT:
                output += content
            if kind == END:
                connection.close()
                return parse(output)
    connection.close()
    return parse(output)


def parse(output):
    head, _, body = output.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("Status:") else 200
    headers = {line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip() for line in lines if ":" in line}
    return status, headers, body


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    args = parser.parse_args()

    status, headers, body = exchange(args.socket, request("/api/livez"))
    check("livez over raw FastCGI", status == 200 and json.loads(body) == {"status": "ok"}, (status, body))
    check("the request id from the web server is echoed", headers.get("x-request-id") == "fastcgi-test", headers)

    # 5 MB declared, only a few bytes sent: refused at once from CONTENT_LENGTH, body unread.
    status, _, body = exchange(args.socket, request("/api/v1/videos", "POST", body=b"{}", declared_length=5 << 20, send_body=False))
    check("a body over the process's limit: 413 before it is read", status == 413
          and json.loads(body)["error"]["code"] == "payload_too_large", (status, body))
    status, _, body = exchange(args.socket, request("/api/v1/videos", "POST", body=b"{" + b" " * (1 << 20) + b"}"))
    check("one byte over 1 MiB sent whole: 413", status == 413, status)

    for payload in [request("/api/v1/videos?limit=100")[:20], b"\x01\x01garbage" * 50, b"\xff" * 4096, request("/api/livez")[:-8]]:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(args.socket)
        connection.sendall(payload)
        connection.close()
    status, _, _ = exchange(args.socket, request("/api/livez"))
    check("cut-off and garbage FastCGI input harm nothing", status == 200)

    status, _, body = exchange(args.socket, request("/api/v1/me", headers={"HTTP_COOKIE": "phim_session=\xff\x00", "HTTP_ACCEPT_LANGUAGE": "en"}))
    check("odd bytes in headers: a clean 401", status == 401 and json.loads(body)["error"]["code"] == "unauthenticated", (status, body))

    print(f"{len(PASSED)} passed, {len(FAILED)} failed")
    raise SystemExit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
