"""A real MJPEG camera for tests: an HTTP server on 127.0.0.1 streaming JPEG frames of a real video as
multipart/x-mixed-replace, as IP cameras do; it can be stopped (connections cut) and started again."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BOUNDARY = b"frame"


class MjpegCamera:
    def __init__(self, jpegs: list[bytes], fps: float = 25.0, port: int = 0) -> None:
        self.jpegs, self.fps, self.port = jpegs, fps, port
        self._server: ThreadingHTTPServer | None = None
        self._streaming = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/video.mjpg"

    def start(self) -> None:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY.decode()}")
                self.end_headers()
                index = 0
                try:
                    while camera._streaming.is_set():
                        jpeg = camera.jpegs[index % len(camera.jpegs)]
                        header = f"Content-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                        self.wfile.write(b"--" + BOUNDARY + b"\r\n" + header + jpeg + b"\r\n")
                        index += 1
                        time.sleep(1 / camera.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._streaming.set()
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop answering and end every open stream, as a camera that loses power does."""
        self._streaming.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
