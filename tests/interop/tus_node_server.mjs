// An independent tus 1.0 server for the interop tests and benches: @tus/server with
// @tus/file-store, on loopback. Usage: node tus_node_server.mjs DIR [PORT]
// PORT 0 (the default) picks a free port. Prints one JSON line {"port", "url"} once it
// accepts connections, and exits when stdin closes (so it never outlives its parent).
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
const tus = new Server({ path: '/files', datastore: new FileStore({ directory }) });
const server = http.createServer((req, res) => tus.handle(req, res));
server.keepAliveTimeout = 30_000;
server.listen(port, '127.0.0.1', () => {
  const actual = server.address().port;
  process.stdout.write(JSON.stringify({ port: actual, url: `http://127.0.0.1:${actual}/files/` }) + '\n');
});
const stop = () => server.close(() => process.exit(0));
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
