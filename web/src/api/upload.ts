// Uploading a dump file: POST /api/v1/uploads makes an upload, PUT /api/v1/uploads/{id} sends the
// bytes. fetch cannot report upload progress, so the bytes go through XMLHttpRequest. A request
// that is cut off loses nothing: the server keeps what arrived, says how much (GET), and the rest
// is sent from there with a Content-Range.
import { api, ApiError, problemText, unwrap, type Schemas } from './client';
import { credentialHeaders, setShareToken } from './credentials';
import { formatBytes } from '../format';

export type Uploaded = Schemas['Uploaded'];

export interface UploadProgress {
  /** Bytes the server has (an earlier, cut-off attempt's included). */
  sent: number;
  total: number;
  /** Bytes per second over the current request. */
  bytesPerSecond: number;
  /** A request was cut off: asking the server where to go on from. */
  resuming: boolean;
}

export interface UploadOptions {
  onProgress?: (progress: UploadProgress) => void;
  /** Aborting it stops the upload; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** How long the dump lives once Ready (e.g. `24h`); the server's default otherwise. */
  ttl?: string;
}

/** How long to wait before asking the server again: it may still hold an earlier request of
 *  this upload open (it ends a silent one after 60 s), or the network may still be down. */
export const RETRY_WAIT_MS = 1000;
/** Retries in a row that move no byte before giving up: past the server's 60 s. */
export const MAX_ATTEMPTS_WITHOUT_PROGRESS = 90;

/** Uploads `file` and answers the dump it became (its restore has started). The same file sent
 *  again from this tab after a cancel or an outage goes on from what the server has. Keeps the
 *  dump's share token, when the server gives one, so this tab can open it. */
export async function uploadFile(file: File, { onProgress, signal, ttl }: UploadOptions = {}): Promise<Uploaded> {
  const remembered = resumeKey(file);
  const upload =
    (await earlierUpload(remembered, ttl, signal)) ??
    (await unwrap(
      api.POST('/api/v1/uploads', { body: { name: file.name, size: file.size, ttl: ttl ?? null }, signal }),
    ));
  sessionStorage.setItem(remembered, upload.id);
  let uploaded: Uploaded;
  try {
    uploaded = await send(upload, file, signal, onProgress);
  } catch (error) {
    // Kept after a cancel or an outage; an upload the server refused is not resumed.
    if (error instanceof ApiError && !RESUMABLE.has(error.status)) sessionStorage.removeItem(remembered);
    throw error;
  }
  sessionStorage.removeItem(remembered);
  if (uploaded.shareToken) setShareToken(uploaded.dump.id, uploaded.shareToken);
  return uploaded;
}

/** Where this tab remembers the upload of a file, by what identifies it without reading it. */
function resumeKey(file: File): string {
  return `dumplens.upload.${JSON.stringify([file.name, file.size, file.lastModified])}`;
}

/** This tab's earlier upload of the file, if the server still has it (with the same TTL). */
async function earlierUpload(remembered: string, ttl: string | undefined, signal: AbortSignal | undefined) {
  const id = sessionStorage.getItem(remembered);
  if (!id) return null;
  try {
    const upload = await unwrap(api.GET('/api/v1/uploads/{id}', { params: { path: { id } }, signal }));
    return (upload.ttl ?? null) === (ttl ?? null) ? upload : null;
  } catch (error) {
    if (error instanceof ApiError) return null;
    throw error;
  }
}

/** Sends what the server does not have yet, going on after each request that was cut off. */
async function send(
  upload: Schemas['Upload'],
  file: File,
  signal: AbortSignal | undefined,
  onProgress: UploadOptions['onProgress'],
): Promise<Uploaded> {
  let offset = upload.offset;
  let attemptsWithoutProgress = 0;
  for (;;) {
    const answer = await putFrom(upload.id, file, offset, signal, onProgress);
    if (answer.status === 201) return answer.body as Uploaded;
    if (!RESUMABLE.has(answer.status)) throw new ApiError(answer.status, answerText(answer, offset));
    // The server kept what arrived: ask how much, and send the rest.
    let held: number | null = null;
    while (held === null) {
      if (++attemptsWithoutProgress > MAX_ATTEMPTS_WITHOUT_PROGRESS) {
        throw new ApiError(answer.status, answerText(answer, offset));
      }
      onProgress?.({ sent: offset, total: file.size, bytesPerSecond: 0, resuming: true });
      // Right away after a drop (the server has usually noticed it); after that, once a second.
      if (answer.status === 409 || attemptsWithoutProgress > 1) await wait(RETRY_WAIT_MS, signal);
      held = await heldBytes(upload.id, signal);
    }
    if (held > offset) attemptsWithoutProgress = 0;
    offset = held;
  }
}

/** 0: the connection dropped; 202: the request ended before the file did; 408: the server ended
 *  a stalled request; 409: it still holds an earlier request open, or has other bytes than we
 *  thought. */
const RESUMABLE = new Set([0, 202, 408, 409]);

/** The bytes the server has of upload `id`, or null when it cannot be reached. */
async function heldBytes(id: string, signal: AbortSignal | undefined): Promise<number | null> {
  try {
    return (await unwrap(api.GET('/api/v1/uploads/{id}', { params: { path: { id } }, signal }))).offset;
  } catch (error) {
    // fetch rejects with a TypeError when no answer came: the network is still down.
    if (error instanceof TypeError && !signal?.aborted) return null;
    throw error;
  }
}

interface PutAnswer {
  /** 0 when no answer came (the connection dropped). */
  status: number;
  statusText: string;
  body: unknown;
}

/** One PUT of the file's bytes from `offset` on, reporting progress as they leave. */
function putFrom(
  id: string,
  file: Blob,
  offset: number,
  signal: AbortSignal | undefined,
  onProgress: UploadOptions['onProgress'],
): Promise<PutAnswer> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const request = new XMLHttpRequest();
    request.open('PUT', `/api/v1/uploads/${encodeURIComponent(id)}`);
    for (const [name, value] of Object.entries(credentialHeaders([]))) request.setRequestHeader(name, value);
    request.setRequestHeader('Content-Type', 'application/octet-stream');
    if (offset > 0) request.setRequestHeader('Content-Range', `bytes ${offset}-${file.size - 1}/${file.size}`);
    const started = performance.now();
    request.upload.onprogress = (event) => {
      const seconds = (performance.now() - started) / 1000;
      onProgress?.({
        sent: offset + event.loaded,
        total: file.size,
        bytesPerSecond: seconds > 0 ? event.loaded / seconds : 0,
        resuming: false,
      });
    };
    const stop = () => request.abort();
    signal?.addEventListener('abort', stop, { once: true });
    const settle = () => signal?.removeEventListener('abort', stop);
    request.onload = () => {
      settle();
      resolve({ status: request.status, statusText: request.statusText, body: parseJson(request.responseText) });
    };
    request.onerror = () => {
      settle();
      resolve({ status: 0, statusText: '', body: null });
    };
    request.onabort = () => {
      settle();
      reject(signal?.reason ?? new DOMException('The upload was cancelled.', 'AbortError'));
    };
    request.send(offset > 0 ? file.slice(offset) : file);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** What went wrong, in the server's words when it answered. */
function answerText(answer: PutAnswer, offset: number): string {
  if (answer.status === 0) return `the connection to the server was lost (it had ${formatBytes(offset)})`;
  return problemText(answer.body, answer);
}

function wait(milliseconds: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', cancel);
      resolve();
    }, milliseconds);
    const cancel = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', cancel, { once: true });
  });
}
