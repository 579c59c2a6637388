from patron.core.errors import Conflict, InvalidInput, NotFound


class CustomerNotFound(NotFound):
    code = "customer_not_found"


class MergeNotFound(NotFound):
    code = "merge_not_found"


class CannotMerge(Conflict):
    code = "cannot_merge"


class CannotUnmerge(Conflict):
    code = "cannot_unmerge"


class UnknownCustomer(InvalidInput):
    code = "unknown_customer"
