#!/usr/bin/env python3
"""Tiny JWKS issuer for the soak test: serves one JSON file at /jwks.json on 127.0.0.1.

Usage: jwks_issuer.py --port N --jwks FILE [--log FILE]
Appends one line per fetch to --log (the soak counts them). Stops on SIGTERM/SIGINT.
The soak kills it (SIGKILL) and starts it again on the same port: HTTPServer sets
SO_REUSEADDR, so the restart does not trip over the old socket's TIME_WAIT.
"""
import argparse
import http.server
import signal
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--jwks", required=True)
    ap.add_argument("--log")
    a = ap.parse_args()
    body = open(a.jwks, "rb").read()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            if self.path.split("?")[0] != "/jwks.json":
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            if a.log:
                with open(a.log, "a") as f:
                    f.write(f"{time.time():.3f} fetch\n")

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer.daemon_threads = True
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"listening on 127.0.0.1:{a.port}", flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
