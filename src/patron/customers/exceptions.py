from patron.core.errors import Conflict, Forbidden, InvalidInput, NotFound


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


class OutOfScope(Forbidden):
    """A store-bound user asked for a customer of another store."""

    code = "out_of_scope"


class SuggestionNotFound(NotFound):
    code = "merge_suggestion_not_found"


class SuggestionDecided(Conflict):
    """A merge suggestion that was merged or dismissed already."""

    code = "merge_suggestion_decided"


class AmbiguousIdentifier(Conflict):
    """An id given without its system names customers of more than one system."""

    code = "ambiguous_identifier"
