"""The HTTP edge: `app.py` builds the server from the routes, guards and chat page beside it."""
