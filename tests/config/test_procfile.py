"""The run command's process list: honcho accepts it and it names every part of the portal."""

import subprocess
import sys
from pathlib import Path

from django.conf import settings


def test_procfile_runs_web_worker_beat_and_localstripe():
    honcho = Path(sys.executable).with_name("honcho")

    result = subprocess.run(  # noqa: S603 - fixed argv
        [str(honcho), "check", "-f", "Procfile"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 0, result.stderr
    assert "Valid procfile detected (web, worker, beat, stripe)" in result.stderr
    procfile = (settings.BASE_DIR / "Procfile").read_text()
    assert "django_celery_beat.schedulers:DatabaseScheduler" in procfile
    assert "--from-scratch" in procfile
