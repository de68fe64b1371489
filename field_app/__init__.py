"""The field app: a static, installable web app (HTML, CSS, JavaScript modules, a service worker) in ``www/``,
served by the server at ``/app``. No build step: the files are served as they are."""

from pathlib import Path

WWW = Path(__file__).resolve().parent / "www"
