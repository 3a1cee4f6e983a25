# Configuration for `make lab`: local only, and no outbound news or update checks.
import os

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file
c.ServerApp.ip = "127.0.0.1"
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.handlers.announcements.NeverCheckForUpdate"
# Workshop machines and containers often run as root, where Jupyter refuses to start unless told
# otherwise. The server listens on 127.0.0.1 only and keeps its token, so this is safe here.
if hasattr(os, "geteuid") and os.geteuid() == 0:
    c.ServerApp.allow_root = True
