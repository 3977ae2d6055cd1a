"""Run pytest and decide success from its summary line, not only its exit code.

pytest's exit code alone can mislead in two ways that this gate closes:
- "no tests ran" (exit 5) must fail, never pass silently;
- a crash at interpreter exit (seen as exit 134 from PyGILState_Release after every test
  passed) happens after the summary: the summary is the verdict, and the crash is reported.
"""

from __future__ import annotations

import re
import subprocess
import sys

# "=== 3 passed in 1.2s ===" or, under -q, "3 passed in 1.2s" (also "no tests ran in ...").
SUMMARY = re.compile(
    r"^(?:=+ )?(?P<body>(?:no tests ran|\d+ (?:passed|failed|errors?|skipped|xfailed|xpassed|"
    r"deselected|warnings?)).*?) in [\d.]+s(?: \([^)]*\))?(?: =+)?$"
)


def verdict(summary: str | None, returncode: int) -> tuple[bool, str]:
    if summary is None:
        return False, f"pytest printed no summary line (exit {returncode})"
    counts = dict(
        (word, int(n))
        for n, word in re.findall(r"(\d+) (passed|failed|errors?|skipped|xfailed)", summary)
    )
    if counts.get("failed") or counts.get("error") or counts.get("errors"):
        return False, f"tests failed: {summary}"
    if not counts.get("passed"):
        return False, f"no test passed: {summary}"
    if counts.get("skipped"):
        return False, f"skipped tests are not allowed: {summary}"
    if returncode != 0:
        return True, f"all tests passed ({summary}) but pytest exited {returncode} afterwards"
    return True, summary


def main(argv: list[str]) -> int:
    cmd = [sys.executable, "-m", "pytest", *argv]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    summary = None
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        match = SUMMARY.match(line.strip())
        if match:
            summary = match.group("body")
    returncode = proc.wait()
    ok, message = verdict(summary, returncode)
    print(f"\npytest gate: {'PASS' if ok else 'FAIL'}: {message}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
