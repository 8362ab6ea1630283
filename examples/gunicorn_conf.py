"""gunicorn settings for ``examples/gunicorn_redis.py``: three workers sharing Redis.

    gunicorn -c examples/gunicorn_conf.py examples.gunicorn_redis:application

``GUNICORN_BIND`` overrides the address (default ``127.0.0.1:8000``).
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = 3
worker_class = "sync"
timeout = 30
graceful_timeout = 5
accesslog = "-"
