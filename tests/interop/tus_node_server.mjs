// An independent tus 1.0 server for the interop tests and benches: @tus/server with
// @tus/file-store, on loopback. Usage: node tus_node_server.mjs DIR [PORT]
// PORT 0 (the default) picks a free port. Prints one JSON line {"port", "url"} once it
// accepts connections, and exits when stdin closes (so it never outlives its parent).
// TUS_NODE_OPTIONS (JSON, optional) sets up the unusual servers a school may run:
// {"path": "/school/tus/files"} (behind a path prefix), {"maxSize": N} (Tus-Max-Size),
// {"relativeLocation": true} (path-only Location), {"expirationMs": N} (uploads expire).
import http from 'node:http';
import process from 'node:process';
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const directory = process.argv[2];
if (!directory) {
  process.stderr.write('usage: node tus_node_server.mjs DIR [PORT]\n');
  process.exit(2);
}
const port = Number(process.argv[3] ?? 0);
const options = JSON.parse(process.env.TUS_NODE_OPTIONS || '{}');
const path = options.path ?? '/files';
const store = new FileStore({ directory, expirationPeriodInMilliseconds: options.expirationMs ?? 0 });
const tus = new Server({
  path,
  datastore: store,
  ...(options.maxSize ? { maxSize: options.maxSize } : {}),
  ...(options.relativeLocation ? { relativeLocation: true } : {}),
});
const server = http.createServer((req, res) => tus.handle(req, res));
server.keepAliveTimeout = 30_000;
server.listen(port, '127.0.0.1', () => {
  const actual = server.address().port;
  process.stdout.write(JSON.stringify({ port: actual, url: `http://127.0.0.1:${actual}${path}/` }) + '\n');
});
const stop = () => server.close(() => process.exit(0));
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
