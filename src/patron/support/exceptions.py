"""Support errors; each carries its facts and maps to HTTP through the core base classes."""

from patron.core.errors import Conflict, Forbidden, InvalidInput, NotFound


class NaiveInstant(InvalidInput):
    """A date and time without its zone: nobody can know which instant it meant."""

    code = "naive_instant"


class EndBeforeStart(InvalidInput):
    code = "end_before_start"


class InvalidHours(InvalidInput):
    """Opening hours that cannot be read, overlap, or leave the day."""

    code = "invalid_hours"


class NoWorkingHours(InvalidInput):
    """A calendar with no working time ahead: a deadline would never come."""

    code = "no_working_hours"


class CalendarNotFound(NotFound):
    code = "business_calendar_not_found"


class InvalidFeedback(InvalidInput):
    """Labelled feedback that cannot train a model (a bad label, one class only …)."""

    code = "invalid_feedback"


class SentimentModelMissing(NotFound):
    """No sentiment model file where one was asked for."""

    code = "sentiment_model_missing"


class TicketNotFound(NotFound):
    code = "ticket_not_found"


class TransitionRefused(Conflict):
    """A ticket cannot go from its status to the one asked (closed → waiting …)."""

    code = "ticket_transition_refused"


class TicketRefused(Conflict):
    """Work a ticket's type or state does not allow (a refund on a complaint, twice …)."""

    code = "ticket_refused"


class AttachmentRefused(InvalidInput):
    """A file that is not a photo of an accepted type, or too large."""

    code = "attachment_refused"


class SurveyNotFound(NotFound):
    code = "survey_not_found"


class SurveyLinkInvalid(Forbidden):
    """A survey link that is forged, used already or expired: nothing is told beyond that."""

    code = "survey_link_invalid"
