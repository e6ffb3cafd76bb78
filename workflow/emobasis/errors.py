"""Every error the package raises on a user's input, in one leaf module (it imports nothing of the package).

Each message names what is wrong and how to fix it (``Fix: ...``); a stage raises its own subclass.
"""


class EmobasisError(Exception):
    """An error in the user's input that names what is wrong and how to fix it."""


# --- config ----------------------------------------------------------------------------------------------


class ConfigError(EmobasisError):
    """The study configuration is invalid."""


class UnsafePathError(ConfigError):
    """A path a config names would leave the folder it is joined to (absolute, ``~``, a drive or ``..``)."""


# --- data ------------------------------------------------------------------------------------------------


class SourceError(EmobasisError):
    """A data source could not be obtained or failed its checksum."""


class SuiteError(EmobasisError):
    """A suite's files do not have the expected layout or labels."""


class TableSpecError(EmobasisError):
    """A table suite's config options contradict each other or the file."""


class PromptError(EmobasisError):
    """A prompt set cannot be built from its sources."""


class StimulusError(EmobasisError):
    """A stimulus set cannot be built as configured."""


class JudgeError(EmobasisError):
    """Judge training data or inputs are unusable."""


# --- models ----------------------------------------------------------------------------------------------


class ModelError(EmobasisError):
    """A model cannot be built or loaded as configured."""


class ExtractionError(EmobasisError):
    """Extraction cannot proceed or produced unusable activations."""


class GenerationError(EmobasisError):
    """Own-answer generation cannot proceed as configured."""


# --- labels ----------------------------------------------------------------------------------------------


class AnswerError(EmobasisError):
    """Own answers cannot be labelled or do not support the study."""


class AuditError(EmobasisError):
    """The audit labels (answers read blind) are malformed or do not match the study."""


# --- concepts --------------------------------------------------------------------------------------------


class ConceptError(EmobasisError):
    """Concept directions cannot be fit from the given stimuli."""


# --- transfer --------------------------------------------------------------------------------------------


class TransferError(EmobasisError):
    """The cross-model evaluation cannot run on the given data."""


class AlignError(EmobasisError):
    """An aligner cannot be fit or applied as asked."""


class MonitorError(EmobasisError):
    """The monitor cannot be fit or applied."""


# --- report ----------------------------------------------------------------------------------------------


class ReportError(EmobasisError):
    """The report cannot be built from the tables it was given."""
