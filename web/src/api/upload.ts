// Uploading a dump file: POST /api/v1/uploads makes an upload, PUT /api/v1/uploads/{id} sends the
// bytes. fetch cannot report upload progress, so the bytes go through XMLHttpRequest. A request
// that is cut off loses nothing: the server keeps what arrived, says how much (GET), and the rest
// is sent from there with a Content-Range.
import { api, ApiError, problemText, unwrap, type Schemas } from './client';
import { credentialHeaders, setShareToken } from './credentials';

export type Uploaded = Schemas['Uploaded'];

export interface UploadProgress {
  /** Bytes the server has (an earlier, cut-off attempt's included). */
  sent: number;
  total: number;
  /** Bytes per second over the current request. */
  bytesPerSecond: number;
}

export interface UploadOptions {
  onProgress?: (progress: UploadProgress) => void;
  /** Aborting it stops the upload; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** How long the dump lives once Ready (e.g. `24h`); the server's default otherwise. */
  ttl?: string;
}

/** How long to wait before asking again when the server is still holding an earlier request of
 *  this upload open (it ends a silent one after 60 s). */
export const RETRY_WAIT_MS = 1000;
/** Attempts in a row that move no byte before giving up: past the server's 60 s. */
export const MAX_ATTEMPTS_WITHOUT_PROGRESS = 90;

/** Uploads `file` and answers the dump it became (its restore has started). Keeps the dump's
 *  share token, when the server gives one, so this tab can open it. */
export async function uploadFile(file: File, { onProgress, signal, ttl }: UploadOptions = {}): Promise<Uploaded> {
  const upload = await unwrap(
    api.POST('/api/v1/uploads', { body: { name: file.name, size: file.size, ttl: ttl ?? null }, signal }),
  );
  let offset = upload.offset;
  let attemptsWithoutProgress = 0;
  for (;;) {
    const answer = await putFrom(upload.id, file, offset, signal, onProgress);
    if (answer.status === 201) {
      const uploaded = answer.body as Uploaded;
      if (uploaded.shareToken) setShareToken(uploaded.dump.id, uploaded.shareToken);
      return uploaded;
    }
    // 0: the connection dropped; 408: the server ended a stalled request; 409: it still holds an
    // earlier request open, or has other bytes than we thought. Each time the server kept what
    // arrived: ask how much, and send the rest.
    const resumable = answer.status === 0 || answer.status === 408 || answer.status === 409 || answer.status === 202;
    if (!resumable || ++attemptsWithoutProgress > MAX_ATTEMPTS_WITHOUT_PROGRESS) {
      throw new ApiError(answer.status, answerText(answer, offset));
    }
    // Right away after a drop (the server has usually noticed it); after that, once a second.
    if (answer.status === 409 || attemptsWithoutProgress > 1) await wait(RETRY_WAIT_MS, signal);
    const status = await unwrap(
      api.GET('/api/v1/uploads/{id}', { params: { path: { id: upload.id } }, signal }),
    );
    if (status.offset > offset) attemptsWithoutProgress = 0;
    offset = status.offset;
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
  return problemText(answer.body, new Response(null, { status: answer.status, statusText: answer.statusText }));
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

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** A byte count as people read it: 708485 → "691.9 KiB". */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}
