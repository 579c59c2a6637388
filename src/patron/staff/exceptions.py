from patron.core.errors import Conflict, InvalidInput, NotFound, Unauthenticated


class SignInFailed(Unauthenticated):
    """Wrong name or password, or a disabled account: the message never says which."""

    code = "sign_in_failed"


class StaffNotFound(NotFound):
    code = "staff_not_found"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"


class UsernameTaken(Conflict):
    code = "username_taken"


class WeakPassword(InvalidInput):
    code = "weak_password"


class StoresRequired(InvalidInput):
    code = "stores_required"
