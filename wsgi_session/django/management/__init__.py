"""Management commands of ``"wsgi_session.django"`` (see :mod:`.commands`)."""
