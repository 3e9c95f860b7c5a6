"""The training loop behind `speechseq-train`: data preparation for a run, the per-step work (mixed
precision, clipping, non-finite checks), run set-up and resume, which epoch is the best (`trainer.select_on`), the time budget, DDP rank agreement,
the run log, the end-of-run test report, and aggregating several seeds' runs.
"""
