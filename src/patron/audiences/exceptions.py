from patron.core.errors import Conflict, InvalidInput, NotFound


class AudienceNotFound(NotFound):
    code = "audience_not_found"


class AudienceNameTaken(Conflict):
    code = "audience_name_taken"


class InvalidDefinition(InvalidInput):
    """A definition that parses but names something that does not exist (a custom field, a
    personal custom field, which audiences may not read)."""

    code = "audience_definition_invalid"
