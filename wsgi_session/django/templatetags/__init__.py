"""Template tag libraries of ``wsgi_session.django``: ``{% load wsgi_session %}``."""
