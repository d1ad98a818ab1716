"""Evaluation: segmentation and box metrics, the LV clinical read-out, reports and plots."""
