"""DICOM beyond reading: Segmentation objects out (:mod:`samurai.dicom.seg`), what of a study may
reach an output (:mod:`samurai.dicom.privacy`) and ultrasound test files written in the real
encodings (:mod:`samurai.dicom.synthetic`). Reading lives in :mod:`samurai_common.dicom`."""
