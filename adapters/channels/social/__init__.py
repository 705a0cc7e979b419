"""What every social network's channel shares, one module per idea.

- ``signatures``: a webhook's signature over the raw body (HMAC-SHA256, hex or base64),
  compared in constant time;
- ``intake``: a webhook's delivery made durable work before it is acknowledged: each customer
  message submitted with the raw body as evidence, deduplicated on ``(source, external_id)``;
- ``credentials``: the access token a channel sends with, its refusal remembered
  ("needs re-authorisation") until an operator renews it;
- ``token_store``: a channel's OAuth grant, encrypted at rest (AES-GCM), written atomically;
- ``oauth``: OAuth 2.0 as a client (RFC 6749, PKCE of RFC 7636): the ``[adapters.<name>.oauth]``
  table, each platform's endpoints, the consent URL and the token endpoint's requests;
- ``refreshing``: the access token from the store, refreshed before it expires;
- ``pacing``: the back-off a platform's rate limits impose on every send of a channel;
- ``elsewhere``: an echo of an answer typed in the platform's own tools (or, polled, the
  account's own comment), closing its work;
- ``window``: the messaging window a platform allows for an answer, and the urgency it gives
  routing as it closes;
- ``polling``: for a network polled rather than heard (YouTube, LinkedIn), the high-water mark
  of each source, the daily quota with units reserved for answers, the polls' spread, and what
  a poll found taken in publication order.

A network's channel (``meta``, ``x``, ``youtube``, ``linkedin``) parses its own payloads and
talks to its own API, and builds on these for the rest.
"""
