"""What leaves the training room: checkpoint formats (safetensors + JSON metadata, the resume state),
reading their metadata without torch, `speechseq-export` (ONNX), the ONNX and numpy runtimes that
classify without torch, what a model says about itself (model_info), the shipped pretrained model
and its model card. Never imports training.
"""
