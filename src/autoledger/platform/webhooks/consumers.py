"""Event handlers of the webhooks domain."""

from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.platform.events.consumers import Consumer
from autoledger.platform.events.envelope import Event
from autoledger.platform.webhooks import service


async def fan_out(session: AsyncSession, event: Event) -> None:
    """One delivery per matching endpoint, in the framework's transaction; no HTTP here (the
    dispatcher sends), so a slow receiver never holds up the event stream."""
    await service.fan_out(session, event)


CONSUMERS = [Consumer(name="webhooks.fanout", handle=fan_out)]
