"""Scoring: batched inference over a split, accuracy and confusion metrics, accuracy under noise,
scoring long streams against their truth (and calibrating detectors on them), what a model does
with folders and recordings that hold no commands (the open world), report.json and the plots;
`speechseq-eval` is its command.
"""
