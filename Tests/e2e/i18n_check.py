#!/usr/bin/env python3
"""Checks the dashboard's words (public/): every word on screen comes from i18n/vi.json and en.json.

Fails when a key used in HTML (data-i18n*) or JS (t, setText, setAttr) is missing from either file;
when the two files differ in keys or in {placeholders}; when an HTML page shows text or a visible
attribute that is not marked with data-i18n; when a script puts a quoted word on screen directly
(textContent, placeholder, title, ...); when a key is used by nothing. Also fails on markup that the
pages' Content-Security-Policy would block (inline scripts, inline handlers, style attributes) and on
innerHTML, since the rules for the dashboard forbid both.

Usage: python3 Tests/e2e/i18n_check.py [--public DIR] [--self-test]
Standard library only. Prints one line per check, then "N passed, N failed"; exits 1 on any failure.
--self-test also copies the pages, adds an untranslated word to an HTML file and to a script (and a
key to one JSON file only), and expects each of those to be caught.
"""
import argparse
import html.parser
import json
import os
import re
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LANGUAGES = ("vi", "en")

# Keys built at run time from a value the server sends: `setText(badge, "status." + video.status)`.
# Every key under these prefixes counts as used; a dynamic key under any other prefix fails.
DYNAMIC_PREFIXES = ("status.", "ledger.kind.")

# Words allowed on screen without a key: the brand.
ALLOWED_WORDS = {"Phim"}

# Attributes a person sees or hears, and the data-i18n-* attribute that translates each.
VISIBLE_ATTRIBUTES = {"placeholder": "data-i18n-placeholder", "title": "data-i18n-title",
                      "aria-label": "data-i18n-aria-label", "alt": "data-i18n-alt"}
I18N_ATTRIBUTE = re.compile(r"^data-i18n(?:-(?:placeholder|title|aria-label|alt|doctitle))?$")

# Calls that name a key: t("key"), setText(node, "key"), setAttr(node, "attr", "key") (also as P.t, Phim.setText).
KEY_CALLS = [
    re.compile(r"""(?<![\w$])t\(\s*(["'])([^"'\\]+)\1\s*([,)+])"""),
    re.compile(r"""(?<![\w$])setText\(\s*[^,()]+(?:\([^()]*\))?[^,()]*,\s*(["'])([^"'\\]+)\1\s*([,)+])"""),
    re.compile(r"""(?<![\w$])setAttr\(\s*[^,()]+,\s*["'][\w-]+["']\s*,\s*(["'])([^"'\\]+)\1\s*([,)+])"""),
]
# Literal words put on screen directly, without t().
SCREEN_ASSIGNMENTS = [
    re.compile(r"""\.(textContent|innerText|placeholder|title|alt|ariaLabel)\s*=\s*(["'`])((?:(?!\2).)*)\2"""),
    re.compile(r"""setAttribute\(\s*["'](title|placeholder|aria-label|alt)["']\s*,\s*(["'`])((?:(?!\2).)*)\2"""),
    re.compile(r"""(createTextNode)\(\s*(["'`])((?:(?!\2).)*)\2"""),
]
FORBIDDEN_JS = [
    (re.compile(r"\b(innerHTML|outerHTML|insertAdjacentHTML)\b"), "builds DOM from markup strings"),
    (re.compile(r"(?<![\w$.])(?:window\.)?(alert|confirm)\s*\("), "uses a browser dialog"),
]
KEY_LIKE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
STRING_LITERAL = re.compile(r"""(["'])((?:(?!\1)[^\\\n])+)\1""")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def has_words(text):
    """True when text holds letters or digits other than the allowed brand name."""
    for word in ALLOWED_WORDS:
        text = text.replace(word, "")
    return any(ch.isalnum() for ch in text)


class Page(html.parser.HTMLParser):
    """Collects an HTML file's keys, unmarked text and CSP problems."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.keys = []
        self.unmarked = []
        self.csp = []
        self.stack = []  # (tag, marked with data-i18n)

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        line = self.getpos()[0]
        for name, value in attrs:
            if I18N_ATTRIBUTE.match(name):
                self.keys.append((value or "", line))
            if name.startswith("on"):
                self.csp.append(f"line {line}: inline handler {name}=")
            if name == "style":
                self.csp.append(f"line {line}: style attribute")
        for attribute, marker in VISIBLE_ATTRIBUTES.items():
            value = attributes.get(attribute)
            if value and has_words(value) and marker not in attributes:
                self.unmarked.append(f"line {line}: <{tag} {attribute}=\"{value}\"> has no {marker}")
        if tag == "input" and attributes.get("type") in ("submit", "button", "reset") and has_words(attributes.get("value") or ""):
            self.unmarked.append(f"line {line}: <input value=\"{attributes['value']}\"> is not translated")
        if tag == "script" and not attributes.get("src"):
            self.csp.append(f"line {line}: inline <script>")
        if tag not in self.VOID:
            self.stack.append((tag, "data-i18n" in attributes))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break

    def handle_data(self, data):
        if not data.strip() or not self.stack:
            return
        tag, marked = self.stack[-1]
        if tag in ("script", "style") or marked:
            return
        if has_words(data):
            self.unmarked.append(f"line {self.getpos()[0]}: text {data.strip()!r} in <{tag}> is not marked with data-i18n")


def code_lines(source):
    """The lines of a script without whole-line comments, numbered."""
    in_block = False
    for number, line in enumerate(source.splitlines(), 1):
        stripped = line.strip()
        if in_block:
            if "*/" in stripped:
                in_block = False
            continue
        if stripped.startswith("/*"):
            in_block = "*/" not in stripped
            continue
        if stripped.startswith("//"):
            continue
        yield number, line


def files(public, extension):
    found = []
    for folder, _, names in os.walk(public):
        for name in sorted(names):
            if name.endswith(extension):
                found.append(os.path.join(folder, name))
    return sorted(found)


def check_tree(public):
    """Runs every check on one public/ folder; returns [(name, ok, details)]."""
    results = []

    def record(name, problems):
        results.append((name, not problems, problems))

    # --- The two JSON files.
    catalogs = {}
    problems = []
    for language in LANGUAGES:
        path = os.path.join(public, "i18n", language + ".json")
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError) as error:
            problems.append(f"{path}: {error}")
            continue
        if not isinstance(data, dict):
            problems.append(f"{path}: not a JSON object")
            continue
        for key, value in data.items():
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{language}.json: {key} is not a non-empty string")
        catalogs[language] = data
    record("i18n/vi.json and i18n/en.json are flat objects of non-empty strings", problems)
    if len(catalogs) != len(LANGUAGES):
        return results
    vi, en = catalogs["vi"], catalogs["en"]
    record("vi.json and en.json have the same keys",
           [f"only in vi.json: {key}" for key in sorted(set(vi) - set(en))] +
           [f"only in en.json: {key}" for key in sorted(set(en) - set(vi))])
    record("each key has the same {placeholders} in both languages",
           [f"{key}: vi {sorted(set(PLACEHOLDER.findall(vi[key])))} vs en {sorted(set(PLACEHOLDER.findall(en[key])))}"
            for key in sorted(set(vi) & set(en)) if set(PLACEHOLDER.findall(vi[key])) != set(PLACEHOLDER.findall(en[key]))])
    known = set(vi) & set(en)
    namespaces = {key.split(".")[0] for key in set(vi) | set(en)}

    def missing(key):
        return [language + ".json" for language in LANGUAGES if key not in catalogs[language]]

    used = set()

    # --- HTML pages.
    html_files = files(public, ".html")
    missing_keys, unmarked, csp = [], [], []
    for path in html_files:
        page = Page()
        with open(path, encoding="utf-8") as handle:
            page.feed(handle.read())
        page.close()
        relative = os.path.relpath(path, public)
        for key, line in page.keys:
            used.add(key)
            if missing(key):
                missing_keys.append(f"{relative} line {line}: {key!r} missing from {', '.join(missing(key))}")
        unmarked += [f"{relative} {problem}" for problem in page.unmarked]
        csp += [f"{relative} {problem}" for problem in page.csp]
    record(f"every data-i18n key in {len(html_files)} HTML files exists in both languages", missing_keys)
    record("HTML files show no text or visible attribute without data-i18n", unmarked)
    record("HTML files have no inline scripts, inline handlers or style attributes (CSP)", csp)

    # --- Scripts.
    js_files = files(public, ".js")
    missing_keys, literals, forbidden, dynamic = [], [], [], []
    for path in js_files:
        relative = os.path.relpath(path, public)
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
        for number, line in code_lines(source):
            for pattern in KEY_CALLS:
                for match in pattern.finditer(line):
                    key, after = match.group(2), match.group(3)
                    if after == "+":
                        if not key.startswith(DYNAMIC_PREFIXES):
                            dynamic.append(f"{relative} line {number}: dynamic key \"{key}\" + ... is not under a listed prefix {DYNAMIC_PREFIXES}")
                        continue
                    used.add(key)
                    if missing(key):
                        missing_keys.append(f"{relative} line {number}: {key!r} missing from {', '.join(missing(key))}")
            for pattern in SCREEN_ASSIGNMENTS:
                for match in pattern.finditer(line):
                    if has_words(match.group(3)):
                        literals.append(f"{relative} line {number}: {match.group(1)} gets the literal {match.group(3)!r}; use t()")
            for pattern, why in FORBIDDEN_JS:
                if pattern.search(line):
                    forbidden.append(f"{relative} line {number}: {why}: {line.strip()}")
            # A quoted string equal to a key counts as a use (tables like { label: "tier.pro" },
            # helpers like labelled("p", "note", "card.confirming")); one that looks like a key in a
            # known namespace but is in neither file is a missing key.
            for match in STRING_LITERAL.finditer(line):
                literal = match.group(2)
                if literal in known:
                    used.add(literal)
                elif KEY_LIKE.match(literal) and literal.split(".")[0] in namespaces and not literal.endswith("."):
                    missing_keys.append(f"{relative} line {number}: {literal!r} looks like a key but is in neither file")
    record(f"every key named in {len(js_files)} scripts exists in both languages", missing_keys)
    record("scripts put no quoted words on screen (textContent, placeholder, title, ...)", literals)
    record("scripts build keys dynamically only under the listed prefixes", dynamic)
    record("scripts use no innerHTML-like calls and no alert/confirm", forbidden)

    # --- Unused keys.
    dynamic_used = {key for key in known if key.startswith(DYNAMIC_PREFIXES)}
    unused = sorted(known - used - dynamic_used)
    stale_prefixes = [prefix for prefix in DYNAMIC_PREFIXES if not any(key.startswith(prefix) for key in known)]
    record("every key in the JSON files is used by a page or a script",
           [f"unused key: {key}" for key in unused] + [f"dynamic prefix {prefix!r} matches no key" for prefix in stale_prefixes])
    return results


def report(results, prefix=""):
    passed = failed = 0
    for name, ok, problems in results:
        if ok:
            passed += 1
            print(f"{prefix}ok   {name}")
        else:
            failed += 1
            print(f"{prefix}FAIL {name}")
            for problem in problems[:25]:
                print(f"{prefix}       - {problem}")
            if len(problems) > 25:
                print(f"{prefix}       - ... and {len(problems) - 25} more")
    return passed, failed


def self_test(public):
    """Breaks a copy of the pages in known ways and checks each break is caught."""
    cases = []

    def mutate(name, relative, change, expect):
        cases.append((name, relative, change, expect))

    mutate("an untranslated word in an HTML page", "index.html",
           lambda text: text.replace("<main", "<p>Xin chào</p>\n<main", 1), "HTML files show no text")
    mutate("an untranslated placeholder in an HTML page", "signin.html",
           lambda text: text.replace('id="email"', 'id="email" placeholder="you@example.com"', 1), "HTML files show no text")
    mutate("a quoted word put into textContent (an ES module)", "js/studio/cards.js",
           lambda text: text.replace("\n", '\ndocument.body.textContent = "Hello";\n', 1), "scripts put no quoted words")
    mutate("a key used in a script but missing from the JSON", "js/credits.js",
           lambda text: text.replace('"use strict";', '"use strict";\n  window.Phim.t("credits.not_there");', 1), "every key named in")
    mutate("a key in vi.json only", "i18n/vi.json",
           lambda text: text.replace("{", '{\n  "extra.only_vi": "Chỉ tiếng Việt",', 1), "vi.json and en.json have the same keys")
    mutate("an unused key in both files", "i18n/both",
           lambda text: text.replace("{", '{\n  "extra.unused": "x",', 1), "every key in the JSON files is used")
    mutate("a misspelt key passed to a helper", "js/studio/cards.js",
           lambda text: text.replace('"card.confirming"', '"card.confirmng"', 1), "every key named in")
    mutate("innerHTML in a script", "js/keys.js",
           lambda text: text.replace('"use strict";', '"use strict";\n  document.body.innerHTML = "";', 1), "innerHTML")

    outcomes = []
    for name, relative, change, expect in cases:
        work = tempfile.mkdtemp(prefix="phim-i18n-")
        try:
            copy = os.path.join(work, "public")
            shutil.copytree(public, copy)
            targets = ["i18n/vi.json", "i18n/en.json"] if relative == "i18n/both" else [relative]
            for target in targets:
                path = os.path.join(copy, target)
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
                changed = change(text)
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(changed)
            caught = [result for result in check_tree(copy) if not result[1] and expect in result[0]]
            outcomes.append((f"self-test: {name} is caught", bool(caught and changed != text),
                             [] if caught else [f"no failing check matching {expect!r}"]))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return outcomes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--public", default=os.path.join(ROOT, "public"))
    parser.add_argument("--self-test", action="store_true", help="also prove that broken copies fail")
    options = parser.parse_args()
    results = check_tree(options.public)
    if options.self_test:
        results += self_test(options.public)
    passed, failed = report(results)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
