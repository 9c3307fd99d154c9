"""scripts/services.sh against the machine's real services (which the test run already started)."""

import subprocess

from django.conf import settings

SCRIPT = settings.BASE_DIR / "scripts" / "services.sh"


def run(*targets: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own script, fixed arguments
        ["/bin/bash", str(SCRIPT), *targets],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_running_services_are_left_alone_and_a_second_run_changes_nothing():
    first, second = run("postgres", "redis"), run("postgres", "redis")

    for result in (first, second):
        assert result.returncode == 0, result.stderr
        assert "postgres: already running" in result.stdout
        assert "redis: already running" in result.stdout
    assert "creating database" not in second.stdout
    assert "setting the development password" not in second.stdout


def test_an_unknown_service_is_refused():
    result = run("mysql")

    assert result.returncode == 2
    assert "unknown service: mysql" in result.stdout
