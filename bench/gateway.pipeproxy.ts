/**
 * The floor for bench/gateway.bench.ts: the least a Node HTTP hop can cost on this machine. A bare node:http proxy
 * that pipes requests and answers through unchanged (no token, no parsing, no routing, no re-framing). Prints its
 * base URL on the first stdout line and runs until killed. (Not a *.bench.ts: bench/run.ts skips it.)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const target = new URL(process.argv[2]!);
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const server = http.createServer((req, res) => {
  const upstream = http.request(
    { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host }, agent },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', () => res.destroy());
  res.on('close', () => upstream.destroy());
  req.pipe(upstream);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1\n`));
// Exit cleanly when the bench stops it (so --cpu-prof can write its profile).
process.on('SIGTERM', () => process.exit(0));
