"""The web form channel: a page on the public listener where a customer files a written
complaint (``channel``); its answers leave by e-mail, through another channel."""
