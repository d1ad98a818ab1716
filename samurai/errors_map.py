"""Which exceptions of the library are a user's mistake (exit 2 with their message) and which are
not: the one table the command line consults when an exception escapes a command.

Every exception class defined in the project is listed here, in ``USER_ERRORS`` (raised for
input a user can fix: a damaged file, a wrong option, a missing package version; the message
names the file or option and the fix) or in ``NOT_USER_ERRORS`` (with why). A test walks the
source tree and fails when a new class is in neither, so a new error type cannot end in a
traceback by omission.

Classes are named by module path, not imported: looking one up loads no torch, and the backends
need not be importable for the table to be read.
"""

from __future__ import annotations

# "module.Class" -> what the class covers (for the reader; the message comes from the error).
USER_ERRORS: dict[str, str] = {
    "samurai.errors.UserError": "the library's own user error (CLIError is its old name)",
    "samurai.output.OutputError": "an --out that cannot be written",
    "samurai.app.roots.AccessError": "a file outside the folders the review app was given",
    "samurai.app.sessions.SessionError": "a review-app request that does not fit the session's state",
    "samurai.clinical.study.StudyError": "run folders that cannot make one study (no masks, two studies)",
    "samurai.dicom.seg.SegmentationError": "masks that cannot be written as a Segmentation of their source",
    "samurai_common.dicom.DicomError": "a DICOM file that is not an ultrasound cine samurai can read",
    "samurai_common.source_info.SpacingError": "a pixel spacing (--spacing or a file's) that cannot be used",
    "samurai.locks.OutputBusyError": "an --out that another run is writing",
    "samurai.train.run_folder.TrainOutputError": "a training --out that holds foreign files or the data",
    "samurai.data._base.DatasetError": "a dataset folder or file that cannot be read",
    "samurai.train.lora.AdapterError": "a damaged or mismatched adapter folder",
    "samurai.prompters.base.PrompterError": "prompts that cannot be used as asked",
    "samurai.baselines.medsam.MedSamError": "MedSAM weights that are missing or damaged",
    "samurai.florence.model.FlorenceError": "a Florence-2 folder that cannot be used",
    "samurai_common.frame_source.FrameError": "a video or frame that cannot be read",
    "samurai_common.frame_source.VideoEndedEarly": "a video that ends before its first usable frame",
    "samurai_sam2.class_prompts.ClassPromptError": "a damaged class_prompts.safetensors or unknown class",
    "samurai_sam2.compat.UnsupportedSam2Error": "an installed sam2 version the backend does not support",
    "samurai_hf.model.TransformersVersionError": "an installed transformers version the backend does not support",
}

# "module.Class" -> why an escaping instance is not turned into exit 2 here.
NOT_USER_ERRORS: dict[str, str] = {
    "samurai.cli.Terminated": "SIGTERM: exit 143, handled as an interrupt",
    "samurai.data._base.DatasetWarning": "a warning (a skipped case), printed, never raised",
    "samurai.app.worker.Stopped": "the review app's server is stopping: a job ends between two frames",
    "samurai.clinical.geometry.ChamberAbsent": "caught by the read-out: a chamber's values are left missing with the reason",
    "samurai_sam2.predictor.MissingExtensionWarning": "a warning, printed once, never raised",
}


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def user_error_message(err: BaseException) -> str | None:
    """The message to print with exit 2 when ``err`` is a user error (its class, or a base of
    it, is in ``USER_ERRORS``), else None (a bug: let the traceback through).

    >>> from samurai.data import DatasetError
    >>> user_error_message(DatasetError("cannot read x.nii.gz: truncated"))
    'cannot read x.nii.gz: truncated'
    >>> user_error_message(KeyError("a bug")) is None
    True
    """
    for cls in type(err).__mro__:
        if _qualified(cls) in USER_ERRORS:
            return str(err).strip() or type(err).__name__
    return None
