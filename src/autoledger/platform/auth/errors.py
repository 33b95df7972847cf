from autoledger.kit.errors import Conflict, Forbidden, InvalidRequest, NotFound, Unauthenticated


class InvalidApiKey(Unauthenticated):
    code = "auth.invalid_key"
    title = "Invalid API key"


class InsufficientScope(Forbidden):
    code = "auth.insufficient_scope"
    title = "Insufficient scope"


class TenantNameTaken(Conflict):
    code = "tenants.name_taken"
    title = "Tenant name taken"


class TenantNotFound(NotFound):
    code = "tenants.not_found"
    title = "Tenant not found"


class ApiKeyNotFound(NotFound):
    code = "api_keys.not_found"
    title = "API key not found"


class InvalidTenantName(InvalidRequest):
    code = "tenants.invalid_name"
    title = "Invalid tenant name"
