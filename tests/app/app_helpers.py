"""Constants shared by the app tests and their conftest (a module name of its own, so that
``import`` never confuses it with ``tests/conftest.py``)."""

IMAGE_SIZE = 128  # the random-init SAM 2 tiny's input size
FRAMES = 6  # frames of the test clip (make_synthetic_frames, 128 x 96)
