"""Fail when a pytest JUnit report shows a skipped test, or no test at all (CI=true make test).

Usage: python scripts/check_junit.py var/junit.xml
"""

from __future__ import annotations

import sys
from xml.etree import ElementTree


def main(path: str) -> int:
    # Our own pytest wrote this file moments ago: it is trusted input.
    root = ElementTree.parse(path).getroot()  # noqa: S314
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    total = sum(int(suite.get("tests", "0")) for suite in suites)
    skipped = [
        f"{case.get('classname')}::{case.get('name')}: {skip.get('message', '')}"
        for case in root.iter("testcase")
        for skip in case.findall("skipped")
    ]
    if total == 0:
        print(f"check_junit: {path} records no test at all", file=sys.stderr)
        return 1
    if skipped:
        count = len(skipped)
        print(f"check_junit: {count} test(s) skipped; with CI=true none may be:", file=sys.stderr)
        for line in skipped:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"check_junit: {total} tests, none skipped")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
