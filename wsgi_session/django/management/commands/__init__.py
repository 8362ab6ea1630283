"""``manage.py clearsessions`` for projects without ``django.contrib.sessions``."""
