// An independent tus 1.0 server for the interop tests and benches: @tus/server with
// @tus/file-store, on loopback. Usage: node tus_node_server.mjs DIR [PORT]
// PORT 0 (the default) picks a free port. Prints one JSON line {"port", "url"} once it
// accepts connections, and exits when stdin closes (so it never outlives its parent).
// TUS_NODE_OPTIONS (JSON, optional) sets up the unusual servers a school may run:
// {"path": "/school/tus/files"} (behind a path prefix), {"maxSize": N} (Tus-Max-Size),
// {"relativeLocation": true} (path-only Location), {"expirationMs": N} (uploads expire),
// {"extensions": [...]} (only these tus extensions), {"locationQuery": "k=v"} (upload URLs
// carry a query string), {"locationPath": "/elsewhere"} (uploads live on another path),
// {"logFile": PATH} (one JSON line per request: method, url and tus headers),
// {"finishStatus": 200, "finishBody": "..."} (an onUploadFinish hook that answers the last
// PATCH with its own status and body, as @tus/server allows and many sites do).
import fs from 'node:fs';
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
if (options.extensions) store.extensions = options.extensions;
const uploads = options.locationPath ?? path;
const query = options.locationQuery ? `?${options.locationQuery}` : '';
const where = options.locationPath || options.locationQuery ? {
  generateUrl: (_req, { proto, host, id }) =>
    `${options.relativeLocation ? '' : `${proto}://${host}`}${uploads}/${id}${query}`,
  // The id is the last path segment, whatever the query string says.
  getFileIdFromRequest: (req) => {
    const segment = /([^/]+)\/?$/.exec(new URL(req.url).pathname);
    return segment ? decodeURIComponent(segment[1]) : undefined;
  },
} : {};
const tus = new Server({
  path,
  datastore: store,
  ...(options.maxSize ? { maxSize: options.maxSize } : {}),
  ...(options.relativeLocation ? { relativeLocation: true } : {}),
  ...where,
  ...(options.finishStatus ? {
    onUploadFinish: async () => ({
      status_code: options.finishStatus,
      ...(options.finishBody ? { body: options.finishBody } : {}),
    }),
  } : {}),
});
const logged = ['upload-offset', 'upload-length', 'upload-defer-length', 'upload-concat',
  'upload-checksum', 'upload-metadata', 'content-length', 'content-type', 'tus-resumable'];
const server = http.createServer((req, res) => {
  if (options.logFile) {
    const headers = Object.fromEntries(logged.filter((h) => h in req.headers)
      .map((h) => [h, req.headers[h]]));
    fs.appendFileSync(options.logFile, JSON.stringify({ method: req.method, url: req.url, headers }) + '\n');
  }
  return tus.handle(req, res);
});
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
