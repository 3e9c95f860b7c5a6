"""What leaves the training room: checkpoint formats (safetensors + JSON metadata, the resume state),
reading their metadata without torch, `speechseq-export` (ONNX), the ONNX and numpy runtimes that
classify without torch, and the shipped pretrained model. Never imports training.
"""
