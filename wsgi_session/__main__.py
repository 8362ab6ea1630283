"""``python -m wsgi_session``: the same command line as ``wsgi-session``.

>>> import subprocess, sys
>>> subprocess.run([sys.executable, "-m", "wsgi_session", "--version"],
...                capture_output=True, text=True, check=True).stdout
'wsgi-session ...\\n'
"""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
