"""The deployment files: the systemd unit passes `systemd-analyze verify`, the nginx snippet
serves a feeds folder as nginx really runs it, and the Dockerfile copies what exists."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support.waiting import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
DEPLOY = ROOT / "deploy"


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (DEPLOY / "eventfeed.service").read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_unit_runs_sandboxed_as_its_own_user_and_restarts() -> None:
    unit = unit_settings()
    assert unit["Type"] == ["notify"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["User"] == ["eventfeed"]
    assert unit["ProtectSystem"] == ["strict"]
    # Writes only to the state folder and the feeds folder, which the daemon is told to use.
    [paths] = unit["ReadWritePaths"]
    state, feeds = paths.split()
    env = dict(value.split("=", 1) for value in unit["Environment"])
    assert env["EVENTFEED_STATE_URL"] == f"sqlite:///{state}/eventfeed.db"
    assert env["EVENTFEED_FEEDS_FOLDER"] == feeds
    assert unit["EnvironmentFile"] == ["/etc/eventfeed/eventfeed.env"]  # the token
    assert "TOKEN" not in "".join(unit["ExecStart"] + unit["Environment"])
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    # Far above http.max_connections (512) and the daemon's own files (issue 15, finding 9).
    assert int(unit["LimitNOFILE"][0]) >= 4 * 1024


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify insists that ExecStart exists: point it at this checkout's installed command.
    eventfeed = shutil.which("eventfeed") or str(ROOT / ".venv" / "bin" / "eventfeed")
    text = (DEPLOY / "eventfeed.service").read_text(encoding="utf-8")
    unit = tmp_path / "eventfeed.service"
    unit.write_text(text.replace("/opt/eventfeed/bin/eventfeed", eventfeed), encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "eventfeed.service" not in result.stderr, result.stderr  # no warnings about it


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx not installed")
def test_nginx_snippet_serves_the_feeds_folder(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    atom = b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"/>\n'
    (feeds / "events.atom").write_bytes(atom)
    snippet = (DEPLOY / "nginx-eventfeed.conf").read_text(encoding="utf-8")
    (tmp_path / "eventfeed.conf").write_text(
        snippet.replace("/srv/eventfeed/feeds/", f"{feeds}/"), encoding="utf-8"
    )
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"""
user root;
daemon off;
master_process off;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {tmp_path}; proxy_temp_path {tmp_path};
    fastcgi_temp_path {tmp_path}; uwsgi_temp_path {tmp_path}; scgi_temp_path {tmp_path};
    server {{ listen 127.0.0.1:{port}; include {tmp_path}/eventfeed.conf; }}
}}
""",
        encoding="utf-8",
    )
    check = subprocess.run(
        ["nginx", "-t", "-c", str(conf), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 0, check.stderr
    server = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp_path)])
    try:
        url = f"http://127.0.0.1:{port}/feeds/events.atom"
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    body, headers = response.read(), response.headers
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert body == atom
        assert headers["Content-Type"].startswith("application/atom+xml")
        request = urllib.request.Request(url, headers={"If-None-Match": headers["ETag"]})
        with pytest.raises(urllib.error.HTTPError) as not_modified:
            urllib.request.urlopen(request, timeout=2)
        assert not_modified.value.code == 304
        not_modified.value.close()
    finally:
        server.terminate()
        server.wait(10)


def test_dockerfile_copies_what_exists_and_runs_the_daemon() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    for source in re.findall(r"^COPY (.+) \S+$", text, re.MULTILINE):
        for name in source.split():
            assert (ROOT / name).exists(), name
    assert 'CMD ["eventfeed", "run"' in text
    assert "/healthz" in text  # HEALTHCHECK
    assert "USER eventfeed" in text


def make_plan(target: str) -> list[str]:
    """The commands `make TARGET` would run on a fresh clone (-B: as if nothing were built)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    # Run as a user would, not as a sub-make of `make test` (which prints "Entering directory").
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", target],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


def test_make_run_installs_only_what_running_needs() -> None:
    run, test = make_plan("run"), make_plan("test")
    assert [line for line in run if "pip install" in line and " -e " in line] == [
        ".venv/bin/pip install -q -e ."
    ]
    assert run[-1].endswith("eventfeed run --config config/eventfeed.yaml")
    assert any("pip install" in line and "'.[test]'" in line for line in test)
    assert test[-1].endswith("pytest -q")


def test_the_license_is_an_spdx_string() -> None:
    """setuptools warned three times on `make run` of a license given as a TOML table."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"
    assert "setuptools>=77" in project["build-system"]["requires"]  # reads the SPDX form
