"""nginx in front of LeanLife's web processes, for the reverse-proxy test and bench/scale.py:
deploy/nginx/leanlife.conf (the file docs/deploy.md shows) on a free loopback port with its
upstreams replaced by the given servers, inside a main configuration that keeps everything
under one prefix folder, so nginx runs as any user. (This module holds no tests.)"""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SITE = REPO / "deploy" / "nginx" / "leanlife.conf"
# What the documented file says, replaced by the caller's ports.
EXAMPLE_BACKENDS = ("127.0.0.1:8001", "127.0.0.1:8002")
EXAMPLE_LISTEN = "listen 80;"
# The access log's format: which web process served each request, by client address.
UPSTREAMS_LOG = "log_format upstreams '$remote_addr|$status|$upstream_addr|$request';"
MAIN = """{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    {access_log}
    include {prefix}/leanlife.conf;
}}
"""


class SiteChanged(Exception):
    """deploy/nginx/leanlife.conf no longer has the example lines this module replaces."""


def site_config(port: int, backends: list[str]) -> str:
    """The documented site file listening on ``port``, its upstreams' two example servers
    replaced by ``backends`` (any number)."""
    text = SITE.read_text()
    examples = "".join(f"    server {b};\n" for b in EXAMPLE_BACKENDS)
    if text.count(examples) < 1 or text.count(EXAMPLE_LISTEN) != 1:
        raise SiteChanged(f"{SITE} no longer has upstreams of {' and '.join(EXAMPLE_BACKENDS)} "
                          f"and one {EXAMPLE_LISTEN!r}: update tests/nginx_site.py")
    servers = "".join(f"    server {b};\n" for b in backends)
    return text.replace(examples, servers).replace(EXAMPLE_LISTEN, f"listen 127.0.0.1:{port};")


def write_config(prefix: Path, port: int, backends: list[str], access_log: bool = False) -> list[str]:
    """Writes nginx.conf and leanlife.conf under ``prefix`` (made if missing) and answers the
    command that runs nginx in the foreground on them."""
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "leanlife.conf").write_text(site_config(port, backends))
    # As root, nginx's workers would switch to `nobody`, who may not enter the prefix.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    log = (f"{UPSTREAMS_LOG}\n    access_log {prefix}/access.log upstreams;" if access_log
           else "access_log off;")
    (prefix / "nginx.conf").write_text(MAIN.format(user=user, prefix=prefix, access_log=log))
    return [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
            "-e", str(prefix / "error.log"), "-g", "daemon off;"]
