"""Build-time check of the image: every module the platform's code imports can be imported.

It reads every ``.py`` file of the installed packages (``shared``, ``services``, ``aptic``) and
collects their absolute imports with ``ast``. That includes the imports made inside functions,
such as fontTools on issuance's print path or WeasyPrint on every document's path.
Then it imports each module that is neither the standard library's nor the platform's own.
A runtime dependency left out of the image fails the build here, not the first print. Importing
WeasyPrint also loads Debian's pango.

    python deploy/check_imports.py      # exit 1 and the list of what fails, if anything does
"""

import ast
import importlib
import importlib.util
import sys
from pathlib import Path

OWN_PACKAGES = ("shared", "services", "aptic")


def package_dirs():
    """Where the installed platform packages are (the installed copy, not the sources)."""
    dirs = []
    for name in OWN_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit(f"the package {name!r} is not installed")
        dirs.extend(Path(location) for location in spec.submodule_search_locations)
    return dirs


def imported_modules(paths):
    """``{dotted module name: first file importing it}`` for every absolute import found."""
    found = {}
    for directory in paths:
        for path in sorted(Path(directory).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name, str(path))
    return found


def third_party(modules):
    return {
        name: where
        for name, where in modules.items()
        if name.partition(".")[0] not in sys.stdlib_module_names
        and name.partition(".")[0] not in OWN_PACKAGES
    }


def main():
    modules = third_party(imported_modules(package_dirs()))
    failures = []
    for name, where in sorted(modules.items()):
        try:
            importlib.import_module(name)
        except Exception as exc:  # ImportError, or OSError from a missing system library
            failures.append(f"{name} (imported by {where}): {type(exc).__name__}: {exc}")
    if failures:
        print("cannot import:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print(f"{len(modules)} third-party modules import: {', '.join(sorted(modules))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
