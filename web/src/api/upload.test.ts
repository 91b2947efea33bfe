// uploadFile against a fake server: fetch answers POST/GET /api/v1/uploads, a fake
// XMLHttpRequest takes the PUTs and plays a script (progress, answer, dropped connection).
import type { Mock } from 'vitest';

const fetchMock: Mock<(request: Request) => Promise<Response>> = vi.hoisted(() => {
  // openapi-fetch takes fetch and Request when the client is made, so they are replaced before
  // it is imported; the app's URLs are relative, which Node's Request cannot take on its own.
  const NodeRequest = globalThis.Request;
  globalThis.Request = class extends NodeRequest {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(typeof input === 'string' ? new URL(input, location.href) : input, init);
    }
  };
  const mock = vi.fn<(request: Request) => Promise<Response>>();
  globalThis.fetch = mock as unknown as typeof fetch;
  return mock;
});

import { ApiError } from './client';
import { setApiToken, shareToken } from './credentials';
import { MAX_ATTEMPTS_WITHOUT_PROGRESS, RETRY_WAIT_MS, uploadFile, type UploadProgress } from './upload';

class FakeXhr {
  static requests: FakeXhr[] = [];
  /** What each PUT does, in order. */
  static script: ((request: FakeXhr) => void)[] = [];

  method = '';
  url = '';
  headers: Record<string, string> = {};
  body: Blob | null = null;
  status = 0;
  statusText = '';
  responseText = '';
  upload: { onprogress: ((event: { loaded: number }) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  aborted = false;

  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  send(body: Blob) {
    this.body = body;
    FakeXhr.requests.push(this);
    const step = FakeXhr.script.shift();
    if (!step) throw new Error('an unexpected PUT');
    queueMicrotask(() => step(this));
  }
  abort() {
    this.aborted = true;
    this.onabort?.();
  }

  progress(loaded: number) {
    this.upload.onprogress?.({ loaded });
  }
  respond(status: number, body: unknown) {
    this.status = status;
    this.responseText = JSON.stringify(body);
    this.onload?.();
  }
  drop() {
    this.onerror?.();
  }
}

const FILE_BYTES = '0123456789';
const file = () => new File([FILE_BYTES], 'world.pg18.custom.dump');
const problem = (status: number, detail: string) =>
  new Response(JSON.stringify({ type: 'about:blank', title: 'x', status, detail }), {
    status,
    headers: { 'content-type': 'application/problem+json' },
  });
const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** The server's side of the JSON calls: the upload u1, holding `held()` bytes. */
function serveUploads(held: () => number) {
  fetchMock.mockImplementation(async (request) => {
    const url = new URL(request.url);
    if (request.method === 'POST' && url.pathname === '/api/v1/uploads') {
      const { name, size } = (await request.json()) as { name: string; size: number };
      return json(201, { id: 'u1', name, size, offset: 0 });
    }
    if (request.method === 'GET' && url.pathname === '/api/v1/uploads/u1') {
      return json(200, { id: 'u1', name: 'world.pg18.custom.dump', size: 10, offset: held() });
    }
    return problem(404, 'no such thing');
  });
}

const uploaded = (shareToken: string | null = null) => ({
  dump: { id: 'u1', name: 'world.pg18.custom.dump', phase: 'Pending', databases: [] },
  sha256: 'abc',
  bytes: 10,
  shareToken,
});

beforeEach(() => {
  FakeXhr.requests = [];
  FakeXhr.script = [];
  vi.stubGlobal('XMLHttpRequest', FakeXhr);
  localStorage.clear();
  sessionStorage.clear();
  fetchMock.mockReset();
});
afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('uploadFile', () => {
  it('sends the whole file in one PUT with the credentials, reporting bytes, total and rate', async () => {
    serveUploads(() => 0);
    setApiToken('secret');
    const clock = vi.spyOn(performance, 'now').mockReturnValue(1000);
    FakeXhr.script.push((request) => {
      clock.mockReturnValue(1500);
      request.progress(5);
      clock.mockReturnValue(2000);
      request.progress(10);
      request.respond(201, uploaded('share-me'));
    });
    const progress: UploadProgress[] = [];

    const result = await uploadFile(file(), { onProgress: (event) => progress.push(event) });

    expect(result.dump.id).toBe('u1');
    const [put] = FakeXhr.requests;
    expect(put.method).toBe('PUT');
    expect(put.url).toBe('/api/v1/uploads/u1');
    expect(put.headers.Authorization).toBe('Bearer secret');
    expect(put.headers['Content-Range']).toBeUndefined();
    expect(await put.body!.text()).toBe(FILE_BYTES);
    expect(progress).toEqual([
      { sent: 5, total: 10, bytesPerSecond: 10, resuming: false },
      { sent: 10, total: 10, bytesPerSecond: 10, resuming: false },
    ]);
    const created = fetchMock.mock.calls[0][0];
    expect(created.headers.get('Authorization')).toBe('Bearer secret');
    // A Private dump's share token is shown once: kept so this tab can open the dump.
    expect(shareToken('u1')).toBe('share-me');
  });

  it('resumes from the offset the server has after the connection drops', async () => {
    let held = 0;
    serveUploads(() => held);
    FakeXhr.script.push((request) => {
      request.progress(6);
      held = 4; // the server wrote fewer bytes than left the browser
      request.drop();
    });
    FakeXhr.script.push((request) => {
      request.progress(3);
      request.respond(201, uploaded());
    });
    const progress: [number, boolean][] = [];

    await uploadFile(file(), { onProgress: (event) => progress.push([event.sent, event.resuming]) });

    const [, resumed] = FakeXhr.requests;
    expect(resumed.headers['Content-Range']).toBe('bytes 4-9/10');
    expect(await resumed.body!.text()).toBe('456789');
    expect(progress).toEqual([
      [6, false],
      [0, true],
      [7, false],
    ]);
  });

  it('keeps asking while the network is down, then sends the rest', async () => {
    vi.useFakeTimers();
    let reachable = false;
    serveUploads(() => 3);
    const answer = fetchMock.getMockImplementation()!;
    fetchMock.mockImplementation((request) =>
      reachable || request.method === 'POST' ? answer(request) : Promise.reject(new TypeError('Failed to fetch')),
    );
    FakeXhr.script.push((request) => request.drop());
    FakeXhr.script.push((request) => request.respond(201, uploaded()));

    const done = uploadFile(file());
    await vi.advanceTimersByTimeAsync(3 * RETRY_WAIT_MS);
    expect(FakeXhr.requests).toHaveLength(1);
    reachable = true;
    await vi.advanceTimersByTimeAsync(RETRY_WAIT_MS);
    await done;

    expect(FakeXhr.requests[1].headers['Content-Range']).toBe('bytes 3-9/10');
  });

  it('gives up when MAX_ATTEMPTS_WITHOUT_PROGRESS retries move no byte, in the server’s words', async () => {
    vi.useFakeTimers();
    serveUploads(() => 0);
    for (let attempt = 0; attempt <= MAX_ATTEMPTS_WITHOUT_PROGRESS; attempt++) {
      FakeXhr.script.push((request) =>
        request.respond(409, { status: 409, detail: 'another request is sending this upload now' }),
      );
    }

    const failure = expect(uploadFile(file())).rejects.toThrow('another request is sending this upload now');
    await vi.advanceTimersByTimeAsync((MAX_ATTEMPTS_WITHOUT_PROGRESS + 1) * RETRY_WAIT_MS);
    await failure;
    // The first request and every retry.
    expect(FakeXhr.requests).toHaveLength(MAX_ATTEMPTS_WITHOUT_PROGRESS + 1);
  });

  it('waits while the server still holds an earlier request, then sends from its offset', async () => {
    vi.useFakeTimers();
    serveUploads(() => 7);
    FakeXhr.script.push((request) =>
      request.respond(409, { status: 409, detail: 'another request is sending this upload now' }),
    );
    FakeXhr.script.push((request) => request.respond(201, uploaded()));

    const done = uploadFile(file());
    await vi.advanceTimersByTimeAsync(RETRY_WAIT_MS - 1);
    expect(FakeXhr.requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await done;

    expect(FakeXhr.requests[1].headers['Content-Range']).toBe('bytes 7-9/10');
  });

  it('fails with the API’s own words', async () => {
    serveUploads(() => 0);
    FakeXhr.script.push((request) =>
      request.respond(413, { status: 413, detail: 'the upload is larger than 10 bytes, the limit' }),
    );

    const failure = uploadFile(file());

    await expect(failure).rejects.toThrow(new ApiError(413, 'the upload is larger than 10 bytes, the limit'));
    await expect(failure).rejects.toMatchObject({ status: 413 });
  });

  it('fails with the words of a refused POST without sending bytes', async () => {
    fetchMock.mockResolvedValue(problem(400, 'name must be 1 to 255 bytes, without / or control characters'));

    await expect(uploadFile(new File(['x'], 'a'))).rejects.toThrow(
      'name must be 1 to 255 bytes, without / or control characters',
    );
    expect(FakeXhr.requests).toHaveLength(0);
  });

  it('stops the request when cancelled', async () => {
    serveUploads(() => 0);
    const controller = new AbortController();
    FakeXhr.script.push((request) => {
      request.progress(2);
      controller.abort();
    });

    await expect(uploadFile(file(), { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(FakeXhr.requests[0].aborted).toBe(true);
  });
});

describe('uploadFile again after a cancel', () => {
  it('goes on with the earlier upload from the bytes the server has', async () => {
    let held = 0;
    serveUploads(() => held);
    const same = file();
    const controller = new AbortController();
    FakeXhr.script.push((request) => {
      request.progress(5);
      held = 5;
      controller.abort();
    });
    await expect(uploadFile(same, { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });

    FakeXhr.script.push((request) => request.respond(201, uploaded()));
    await uploadFile(same);

    const posts = fetchMock.mock.calls.filter(([request]) => request.method === 'POST');
    expect(posts).toHaveLength(1);
    expect(FakeXhr.requests[1].headers['Content-Range']).toBe('bytes 5-9/10');
    expect(await FakeXhr.requests[1].body!.text()).toBe('56789');
  });

  it('starts anew once the file was uploaded, or when the server refused it', async () => {
    serveUploads(() => 0);
    FakeXhr.script.push((request) => request.respond(201, uploaded()));
    const same = file();
    await uploadFile(same);
    FakeXhr.script.push((request) => request.respond(400, { status: 400, detail: 'more bytes than the 10 the upload was said to have' }));
    await expect(uploadFile(same)).rejects.toThrow('more bytes than the 10');
    FakeXhr.script.push((request) => request.respond(201, uploaded()));
    await uploadFile(same);

    const posts = fetchMock.mock.calls.filter(([request]) => request.method === 'POST');
    expect(posts).toHaveLength(3);
    expect(FakeXhr.requests.map((request) => request.headers['Content-Range'])).toEqual([undefined, undefined, undefined]);
  });
});
