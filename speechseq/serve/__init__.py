"""`speechseq-serve`: the live demo in a browser. A Starlette app on uvicorn takes microphone audio
over a WebSocket, feeds each connection's audio to a speechseq.Recognizer of its own (as
`speechseq-listen` feeds the microphone), and sends back detections, posteriors and spectrogram
columns.
"""
