"""Files: the verified model-file format (safetensors + JSON) and atomic writes."""
