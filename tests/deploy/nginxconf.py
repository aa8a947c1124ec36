"""The shipped nginx site file, made runnable from a temporary prefix (paths, ports, upstreams)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.deploy.conftest import DEPLOY, self_signed


def nginx_prefix(root: Path, *, https_port: int = 443, http_port: int = 80, upstreams: list[int] | None = None) -> Path:
    """A complete nginx configuration under ``root`` that includes deploy/nginx/ruyi.conf as an operator would,
    with the certificate paths, log paths and ports changed for an unprivileged run. Answers the main conf file."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "logs").mkdir(exist_ok=True)
    cert, key = self_signed(root / "tls")
    site = (DEPLOY / "nginx" / "ruyi.conf").read_text(encoding="utf-8")
    site = site.replace("/etc/ruyi/tls/fullchain.pem", str(cert)).replace("/etc/ruyi/tls/privkey.pem", str(key))
    site = site.replace("/var/log/nginx/", f"{root}/logs/")
    site = re.sub(r"listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;", site)
    site = re.sub(r"listen 80;", f"listen 127.0.0.1:{http_port};", site)
    site = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", site)
    if upstreams is not None:
        servers = "".join(f"    server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;\n" for p in upstreams)
        site = re.sub(
            r"upstream ruyi_api \{.*?keepalive", f"upstream ruyi_api {{\n{servers}    keepalive", site, flags=re.S
        )
    (root / "ruyi.conf").write_text(site, encoding="utf-8")
    main = root / "nginx.conf"
    # As root, nginx's workers would run as ``nobody``, who cannot enter pytest's private temporary directories.
    user = "user root;\n" if os.geteuid() == 0 else ""
    main.write_text(
        f"""{user}worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/logs/error.log warn;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {root}/tmp_body;
    proxy_temp_path {root}/tmp_proxy;
    fastcgi_temp_path {root}/tmp_fcgi;
    uwsgi_temp_path {root}/tmp_uwsgi;
    scgi_temp_path {root}/tmp_scgi;
    include {DEPLOY}/nginx/ruyi-log-format.conf;
    include {root}/ruyi.conf;
}}
""",
        encoding="utf-8",
    )
    return main
