from autoledger.kit.errors import Conflict, InvalidRequest, NotFound


class EndpointNotFound(NotFound):
    code = "webhooks.endpoint_not_found"
    title = "Webhook endpoint not found"


class DeliveryNotFound(NotFound):
    code = "webhooks.delivery_not_found"
    title = "Webhook delivery not found"


class InvalidUrl(InvalidRequest):
    code = "webhooks.invalid_url"
    title = "Invalid webhook URL"


class TargetNotAllowed(InvalidRequest):
    code = "webhooks.target_not_allowed"
    title = "Webhook target not allowed"


class UnknownEventType(InvalidRequest):
    code = "webhooks.unknown_event_type"
    title = "Unknown event type"


class EndpointDisabled(Conflict):
    code = "webhooks.endpoint_disabled"
    title = "Webhook endpoint disabled"
