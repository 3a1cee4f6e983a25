# Configuration for `make lab`: local only, and no outbound news or update checks.
c = get_config()  # noqa: F821 - provided by traitlets when it loads this file
c.ServerApp.ip = "127.0.0.1"
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.handlers.announcements.NeverCheckForUpdate"
