#!/usr/bin/env python3
"""Checks the VietQR a banking app would scan, outside Swift: `phim payments qr` prints the payload and
writes the SVG; rsvg-convert renders it to PNG and zbarimg reads it back. The text read must equal the
payload, and its CRC (CRC-16/CCITT-FALSE over everything up to and including "6304") must check,
computed here independently. Also checks that bad inputs are refused with a non-zero exit and no SVG.

Usage: python3 Tests/e2e/vietqr_check.py --phim .build/debug/phim
Needs rsvg-convert (librsvg2-bin) and zbarimg (zbar-tools). Prints one line per check, then
"N passed, N failed"; exits 1 on any failure.
"""
import argparse
import os
import subprocess
import sys
import tempfile

CASES = [  # (arguments, the payload expected: reference §1 vectors)
    (["--bin", "970436", "--account", "1234567890", "--amount", "99000", "--content", "PHIM8F3K2"],
     "00020101021238540010A00000072701240006970436011012345678900208QRIBFTTA53037045405990005802VN62130809PHIM8F3K2630435C1"),
    (["--bin", "970415", "--account", "0011001932418", "--amount", "120000", "--content", "ung ho lu lut"],
     "00020101021238570010A00000072701270006970415011300110019324180208QRIBFTTA530370454061200005802VN62170813ung ho lu lut6304C15C"),
    (["--bin", "970403", "--account", "0011012345678"],
     "00020101021138570010A00000072701270006970403011300110123456780208QRIBFTTA53037045802VN63049E6F"),
]
REFUSED = [
    ["--bin", "97043", "--account", "1234567890"],
    ["--bin", "970436", "--account", "12345678901234567890"],
    ["--bin", "970436", "--account", "1234567890", "--amount", "0"],
    ["--bin", "970436", "--account", "1234567890", "--content", "PHIM-8F3K2"],
]


def crc16_ccitt_false(data: bytes) -> str:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return f"{crc:04X}"


def emv_fields(text):
    """EMVCo TLV (two-digit id, two-digit decimal length, value) as {id: value}, or None when the
    fields do not end exactly where the text ends; nested templates are parsed by the caller."""
    fields, index = {}, 0
    while index + 4 <= len(text):
        tag, length = text[index:index + 2], int(text[index + 2:index + 4])
        fields[tag] = text[index + 4:index + 4 + length]
        index += 4 + length
    return fields if index == len(text) else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--phim", required=True)
    args = parser.parse_args()
    results = []

    def check(name, ok, detail=""):
        results.append(ok)
        print(("PASS " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))

    check("CRC check value of 123456789 is 29B1", crc16_ccitt_false(b"123456789") == "29B1")
    with tempfile.TemporaryDirectory(prefix="vietqr-") as work:
        for number, (arguments, expected) in enumerate(CASES):
            svg, png = os.path.join(work, f"{number}.svg"), os.path.join(work, f"{number}.png")
            made = subprocess.run([args.phim, "payments", "qr", *arguments, "--svg", svg], capture_output=True, text=True)
            payload = made.stdout.strip()
            check(f"payload {expected[-4:]} byte for byte", made.returncode == 0 and payload == expected, made.stderr or payload)
            rendered = subprocess.run(["rsvg-convert", "--width", "400", "--background-color", "white", svg, "-o", png],
                                      capture_output=True, text=True)
            read = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", png],
                                  capture_output=True, text=True)
            text = read.stdout.rstrip("\n")
            check(f"SVG {expected[-4:]} decodes back to the payload", rendered.returncode == 0 and text == expected,
                  rendered.stderr or text)
            check(f"decoded payload {expected[-4:]} has a valid CRC",
                  text.endswith(crc16_ccitt_false(text[:-4].encode())) and text[-8:-4] == "6304", text)
        for number, arguments in enumerate(REFUSED):
            svg = os.path.join(work, f"refused-{number}.svg")
            made = subprocess.run([args.phim, "payments", "qr", *arguments, "--svg", svg], capture_output=True, text=True)
            check(f"refused: {' '.join(arguments)}", made.returncode != 0 and not os.path.exists(svg) and made.stdout == "",
                  f"exit {made.returncode}, stdout {made.stdout!r}")
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    sys.exit(0 if passed == len(results) else 1)


if __name__ == "__main__":
    main()
