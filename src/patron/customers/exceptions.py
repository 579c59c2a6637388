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


class IdentifierTaken(Conflict):
    """A corrected identifier that belongs to another profile: never merged silently."""

    def __init__(self, kind: str, other_id: int) -> None:
        super().__init__(
            f"{kind}: this {kind} belongs to customer {other_id}; if they are one person, "
            "merge the two profiles instead",
            message_code="identifier_taken",
            field=kind,
            kind=kind,
            other_id=other_id,
        )
