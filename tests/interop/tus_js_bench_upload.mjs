// tus-js-client uploading one file, for bench/upload_throughput.py.
// Usage: node tus_js_bench_upload.mjs FILE ENDPOINT CHUNK_BYTES
// Prints one JSON line {"bytes", "seconds", "url"}; exits 1 with the error on failure.
import fs from 'node:fs';
import process from 'node:process';
import * as tus from 'tus-js-client';

const [file, endpoint, chunk] = process.argv.slice(2);
const size = fs.statSync(file).size;
const started = process.hrtime.bigint();
const upload = new tus.Upload(fs.createReadStream(file), {
  endpoint,
  chunkSize: Number(chunk),
  uploadSize: size,
  retryDelays: [],
  metadata: { filename: 'bench.bin', filetype: 'application/octet-stream' },
  onError: (error) => {
    process.stderr.write(String(error) + '\n');
    process.exit(1);
  },
  onSuccess: () => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    process.stdout.write(JSON.stringify({ bytes: size, seconds, url: upload.url }) + '\n');
  },
});
upload.start();
