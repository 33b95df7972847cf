"""``make security``: audit the locked, installed dependencies for known vulnerabilities.

pip-audit asks a vulnerability service (PyPI's JSON API by default) about every package of
the virtual environment, which ``uv sync --locked`` made exactly the lock file. A known
vulnerability fails the build, unless it is listed in ``IGNORED`` with the reason (a
documented exception). A machine that cannot reach the service (this project's CI machine
reaches only the package index, not PyPI's JSON API) gets a loud warning and the number of
packages left unaudited, not a failure: the audit then runs wherever the service is reachable.
"""

import json
import subprocess
import sys
from pathlib import Path

# Vulnerability ids deliberately accepted, each with why. Empty: none accepted.
IGNORED: dict[str, str] = {}


def main() -> int:
    pip_audit = Path(sys.executable).parent / "pip-audit"
    command = [str(pip_audit), "--local", "--format", "json", "--progress-spinner", "off"]
    for vuln_id in IGNORED:
        command += ["--ignore-vuln", vuln_id]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        print(f"pip-audit failed: {result.stderr.strip()[-500:]}", file=sys.stderr)
        return 1
    packages = report.get("dependencies", [])
    vulnerable = [p for p in packages if p.get("vulns")]
    unaudited = [p for p in packages if p.get("skip_reason")]
    for package in vulnerable:
        for vuln in package["vulns"]:
            print(
                f"VULNERABLE {package['name']} {package['version']}: {vuln['id']} "
                f"(fixed in {', '.join(vuln.get('fix_versions', [])) or 'no release'})",
                file=sys.stderr,
            )
    audited = len(packages) - len(unaudited)
    print(f"pip-audit: {audited} packages audited, {len(vulnerable)} vulnerable")
    if unaudited:
        print(
            f"WARNING: {len(unaudited)} packages could not be audited "
            f"({unaudited[0].get('skip_reason', '')[:120]}); the vulnerability service is "
            "unreachable from this machine",
            file=sys.stderr,
        )
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
