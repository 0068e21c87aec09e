"""Files: the verified model-file format (safetensors + JSON) and atomic writes.

:mod:`.modelfile` saves, loads and describes model files; :mod:`.format` defines the
format's constants and checksums; :mod:`.validate` checks a file before it is used;
:mod:`.atomic` writes any file atomically.
"""
