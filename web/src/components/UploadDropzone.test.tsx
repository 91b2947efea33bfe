import { act, fireEvent, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { MemoryRouter } from 'react-router';
import type { DumpInfo } from '../api/client';
import type { Uploaded, UploadOptions } from '../api/upload';
import { UploadDropzone } from './UploadDropzone';

// The upload protocol has its own test (upload.test.ts); here uploadFile is a script.
const calls = vi.hoisted(() => [] as { file: File; options: UploadOptions; resolve: (u: Uploaded) => void; reject: (e: unknown) => void }[]);
const dumpsById = vi.hoisted(() => new Map<string, DumpInfo>());
vi.mock('../api/upload', async (original) => ({
  ...(await original<typeof import('../api/upload')>()),
  uploadFile: (file: File, options: UploadOptions) =>
    new Promise((resolve, reject) => {
      options.signal?.addEventListener('abort', () => reject(options.signal!.reason));
      calls.push({ file, options, resolve, reject });
    }),
}));
vi.mock('../api/queries', () => ({ useDump: (id: string) => ({ data: dumpsById.get(id) }) }));

const world = () => new File([new Uint8Array(87085)], 'world.pg18.custom.dump');
const restoring: DumpInfo = { id: 'u1', name: 'world.pg18.custom.dump', phase: 'Restoring', databases: [] };

function renderDropzone(onUploaded = vi.fn()) {
  render(
    <QueryClientProvider client={new QueryClient()}>
      <MemoryRouter>
        <UploadDropzone onUploaded={onUploaded} />
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return onUploaded;
}

beforeEach(() => {
  calls.length = 0;
  dumpsById.clear();
});

describe('UploadDropzone', () => {
  it('shows bytes sent, total and rate, then the restore, then a link to the dump', async () => {
    const onUploaded = renderDropzone();
    await userEvent.upload(screen.getByLabelText('choose files'), world());
    expect(calls[0].file.name).toBe('world.pg18.custom.dump');

    act(() => calls[0].options.onProgress!({ sent: 43008, total: 87085, bytesPerSecond: 2 * 1024 * 1024, resuming: false }));
    expect(screen.getByRole('progressbar', { name: 'Upload of world.pg18.custom.dump' })).toHaveAttribute('value', '43008');
    expect(screen.getByText('42.0 KiB of 85.0 KiB · 2.0 MiB/s')).toBeInTheDocument();
    act(() => calls[0].options.onProgress!({ sent: 40960, total: 87085, bytesPerSecond: 0, resuming: true }));
    expect(screen.getByText('40.0 KiB of 85.0 KiB · connection lost, resuming…')).toBeInTheDocument();

    dumpsById.set('u1', restoring);
    const uploaded: Uploaded = { dump: restoring, sha256: 'abc', bytes: 87085 };
    await act(async () => calls[0].resolve(uploaded));
    expect(onUploaded).toHaveBeenCalledWith('u1', uploaded);
    expect(screen.getByText('Restoring')).toBeInTheDocument();
    expect(screen.queryByRole('link')).toBeNull();
  });

  it('links to the dump once it is Ready', async () => {
    renderDropzone();
    await userEvent.upload(screen.getByLabelText('choose files'), world());
    dumpsById.set('u1', { ...restoring, phase: 'Ready' });
    await act(async () => calls[0].resolve({ dump: restoring, sha256: 'abc', bytes: 87085 }));
    expect(screen.getByRole('link', { name: 'Open world.pg18.custom.dump' })).toHaveAttribute('href', '/dumps/u1');
  });

  it('takes dropped files, and shows a failure in the API’s words', async () => {
    renderDropzone();
    const notes = new File(['hello'], 'notes.txt');
    fireEvent.drop(screen.getByText(/Drop dump files here/).parentElement!, { dataTransfer: { files: [notes] } });
    expect(calls[0].file).toBe(notes);
    await act(async () => calls[0].reject(new Error('the upload is larger than 10 bytes, the limit')));
    expect(screen.getByRole('alert')).toHaveTextContent('the upload is larger than 10 bytes, the limit');
  });

  it('cancels an upload', async () => {
    renderDropzone();
    await userEvent.upload(screen.getByLabelText('choose files'), world());
    await userEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(calls[0].options.signal!.aborted).toBe(true);
    expect(await screen.findByText(/^Cancelled: the same file sent again goes on/)).toBeInTheDocument();
    expect(screen.queryByRole('alert')).toBeNull();
    await userEvent.click(screen.getByRole('button', { name: 'Dismiss world.pg18.custom.dump' }));
    expect(screen.queryByRole('list', { name: 'Uploads' })).toBeNull();
  });
});
