// Tiny static server for the browser test page, on two loopback origins:
// http://127.0.0.1:<A>/ (listed in the gateway's CORS policy) and http://127.0.0.1:<B>/
// (not listed). Ports are picked by the OS; prints "pages on A B" once both listen.
import http from 'node:http';

const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>authgate cors test</title>
<link rel="icon" href="data:,"></head>
<body><p id="origin"></p><script>document.getElementById('origin').textContent = location.origin;</script></body></html>
`;

function serve() {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/' || req.url.startsWith('/?'))) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(page);
    } else if (req.method === 'GET' && req.url === '/same-origin.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end('{"same_origin":true}');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

const servers = await Promise.all([serve(), serve()]);
console.log(`pages on ${servers.map((s) => s.address().port).join(' ')}`);
const stop = () => { for (const s of servers) s.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
