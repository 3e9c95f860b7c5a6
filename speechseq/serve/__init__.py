"""speechseq-serve: the live demo in a browser (Starlette + uvicorn, audio over a WebSocket)."""
