from autoledger.kit.errors import Conflict, InvalidRequest


class KeyReused(InvalidRequest):
    code = "idempotency.key_reused"
    title = "Idempotency key reused with a different request"


class KeyInFlight(Conflict):
    code = "idempotency.in_flight"
    title = "A request with this idempotency key is in progress"


class ClaimLost(KeyInFlight):
    """The key was taken over (this request outlived its lease): its effects roll back, and
    a retry gets the answer of the request that owns the key now."""


class InvalidKey(InvalidRequest):
    code = "idempotency.invalid_key"
    title = "Invalid idempotency key"
