// tus-js-client (Node) uploading one file to ToolBox Uploader's tus endpoint, for
// test_tus_js_client.py. The upload URL is kept in a FileUrlStorage so that a second
// run finds and resumes it, as a real client does after a crash or an abort.
//
// Usage: node tus_js_upload.mjs FILE ENDPOINT TOKEN STORAGE_FILE MODE CHUNK_BYTES [override]
//   MODE "abort-chunk:N"  aborts between chunks once N bytes are acknowledged
//   MODE "abort-mid:N"    aborts in the middle of a PATCH body once N bytes are sent
//   MODE "resume"         finds the previous upload, resumes it
// Prints one JSON line {"event": "aborted"|"success", "url", ...}.
// Exits 1 with the error text on stderr when anything fails.
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import * as tus from 'tus-js-client';

const [file, endpoint, token, storageFile, mode, chunk, override] = process.argv.slice(2);
const size = fs.statSync(file).size;
const [action, limit] = mode.split(':');
const abortAt = action.startsWith('abort') ? Number(limit) : null;
let firstProgress = null;
let aborting = false;

function abort(extra) {
  if (aborting) return;
  aborting = true;
  upload.abort(false).then(() => print('aborted', extra), fail);
}

function fail(error) {
  process.stderr.write(String(error) + '\n');
  process.exit(1);
}

function print(event, extra) {
  process.stdout.write(JSON.stringify({ event, url: upload.url, ...extra }) + '\n');
}

const upload = new tus.Upload(fs.createReadStream(file), {
  endpoint,
  headers: { Authorization: `Bearer ${token}` },
  chunkSize: Number(chunk),
  uploadSize: size,
  // 409/423 are retried: the server may still be closing the aborted PATCH.
  retryDelays: abortAt === null ? [100, 300, 1000, 2000] : [],
  overridePatchMethod: override === 'override',
  urlStorage: new tus.FileUrlStorage(storageFile),
  removeFingerprintOnSuccess: false,
  metadata: {
    filename: path.basename(file),
    filetype: 'application/octet-stream',
    category: 'temporary',
  },
  onProgress: (bytesUploaded) => {
    if (firstProgress === null) firstProgress = bytesUploaded;
    if (action === 'abort-mid' && bytesUploaded >= abortAt) abort({ bytesUploaded });
  },
  onChunkComplete: (_chunkSize, bytesAccepted) => {
    if (action === 'abort-chunk' && bytesAccepted >= abortAt) abort({ bytesAccepted });
  },
  onError: fail,
  onSuccess: () => print('success', { firstProgress }),
});

if (abortAt === null) {
  const previous = await upload.findPreviousUploads();
  if (previous.length === 0) fail('no previous upload to resume');
  upload.resumeFromPreviousUpload(previous[0]);
}
upload.start();
