"""`speechseq-serve`: the live demo in a browser. A Starlette app on uvicorn takes microphone audio
over a WebSocket, runs the same streaming recognizer as `speechseq-listen`, and sends back
detections, posteriors and spectrogram columns.
"""

