"""What of a DICOM study may reach samurai's outputs: the study's hash, never the patient.

Outputs (``manifest.json``, logs, reports, file names) name a study by
:func:`samurai_common.source_info.study_hash` of its Study Instance UID, salted with
``SAMURAI_STUDY_SALT`` when set (a site secret makes the hash unlinkable outside the site).
:data:`IDENTIFYING_KEYWORDS` lists the attributes that never leave the file; the one exception is
``seg.dcm``, a DICOM object of the same study that carries its patient and study attributes so
a PACS or viewer files it beside its source.
"""

from __future__ import annotations

import os
from typing import Any

from samurai_common.source_info import SourceInfo

SALT_ENV = "SAMURAI_STUDY_SALT"

# PS3.15 Table E.1-1 attributes a cine export commonly carries (the Basic Profile's list is
# longer; samurai writes none of any of them, this list is what the tests look for).
IDENTIFYING_KEYWORDS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "OtherPatientIDs",
    "OtherPatientNames",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "AccessionNumber",
    "InstitutionName",
    "InstitutionAddress",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "StudyID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "DeviceSerialNumber",
    "StationName",
)


def study_salt() -> str:
    """The salt for study hashes: ``$SAMURAI_STUDY_SALT``, empty when unset."""
    return os.environ.get(SALT_ENV, "")


SALT_FLAG = "--study-salt"


def redact_argv(argv: list[str] | None) -> list[str] | None:
    """The command line to record with the value of ``--study-salt`` blanked: the salt is a
    site secret, and knowing it makes the study hashes linkable again."""
    if argv is None:
        return None
    out, hide = [], False
    for arg in argv:
        if hide:
            out.append("(hidden)")
            hide = False
        elif arg == SALT_FLAG:
            out.append(arg)
            hide = True
        elif arg.startswith(SALT_FLAG + "="):
            out.append(SALT_FLAG + "=(hidden)")
        else:
            out.append(arg)
    return out


def identifying_values(ds, min_length: int = 4) -> list[str]:
    """The identifying values of a dataset to search outputs for: each value and each part of
    a person name, of at least ``min_length`` characters (a sex "F" or a study ID "1" identify
    no one and occur by chance in any binary file)."""
    values = []
    for keyword in IDENTIFYING_KEYWORDS:
        value = ds.get(keyword)
        if value in (None, ""):
            continue
        text = str(value)
        parts = [text] + (text.split("^") if "^" in text else [])
        values.extend(p for p in parts if len(p) >= min_length and p not in values)
    return values


def manifest_source(info: SourceInfo, n_frames: int, kind: str = "DICOM") -> dict[str, Any]:
    """The ``source`` entry for ``manifest.json``: units, timing and the study hash only."""
    return {"kind": kind, "frames": int(n_frames), **info.as_dict()}


__all__ = [
    "IDENTIFYING_KEYWORDS",
    "SALT_ENV",
    "identifying_values",
    "manifest_source",
    "redact_argv",
    "study_salt",
]
