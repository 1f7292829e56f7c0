"""The shape of the code: the import contract in pyproject.toml, and modules that stay one job long.

The contract (import-linter, `[tool.importlinter]` in pyproject.toml): the CLI above the web edge,
above answering (services, engine, answering/, retriever, condense), above index/, above core/;
index/ and core/ never import assistant/; the product never imports bench/, whose scripts sit above
its report, above its shared helpers; no import cycles between sibling modules. `lint-imports`
prints the same report from the repository root.
"""

import ast
import subprocess
import sys

from tests.support import ROOT

PACKAGES = ("core", "index", "assistant", "bench", "tests")
MAX_LINES = 400
REASON = "over 400 lines because"

LINT = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))"


def test_the_import_contract_holds():
    # In a child process: import-linter configures logging for the whole process it runs in.
    done = subprocess.run([sys.executable, "-c", LINT, str(ROOT / "pyproject.toml")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"import contract broken (run `lint-imports` for this report):\n{done.stdout}{done.stderr}"
    assert "0 broken" in done.stdout


def test_long_modules_say_why_in_their_docstring():
    """A module past 400 lines is usually doing several jobs (STYLE.md): split it by job, or say in
    its first docstring, on a line containing "over 400 lines because", why it is one job."""
    unexplained = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            lines = len(text.splitlines())
            if lines > MAX_LINES and REASON not in (ast.get_docstring(ast.parse(text)) or ""):
                unexplained.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not unexplained, f"modules over {MAX_LINES} lines whose docstring does not say why ({REASON} ...):\n" + "\n".join(unexplained)
