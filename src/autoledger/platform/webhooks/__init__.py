"""Customer webhooks: endpoints, fan-out of events into deliveries, a dispatcher that signs
(Standard Webhooks) and sends them with retries, and an SSRF guard. See docs/webhooks.md."""
