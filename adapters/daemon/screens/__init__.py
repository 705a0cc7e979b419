"""The people's screens: the advisor's workspace (``/app/``), the supervisor's wall
(``/app/wallboard``) and the quality reviewer's audits (``/app/quality``), served by the daemon
itself.

They are plain HTML, one style sheet and small ES modules shipped inside the package
(``static/``): no build step, no framework, nothing loaded from elsewhere, so ``pip install``
gives a working interface on a machine without Node or a network. The pages act only through
the API (``/v1``) with the browser session's cookie (``api.sessions``), exactly as any client
with the same role; they keep nothing in ``localStorage``. Live updates come over the offers
WebSocket (``api.websocket``) and the wall's (``api.wallboard``). Every text a customer wrote is
put in the page as text (``textContent``), never parsed as markup, and the Content-Security-Policy
allows scripts and styles from the daemon only.
"""
