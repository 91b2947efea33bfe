import { useEffect, useRef, useState, type DragEvent } from 'react';
import { Link } from 'react-router';
import { useQueryClient } from '@tanstack/react-query';
import { useDump } from '../api/queries';
import { formatBytes } from '../format';
import { uploadFile, type Uploaded, type UploadProgress } from '../api/upload';
import { DumpPhase } from './DumpPhase';
import './UploadDropzone.css';

export interface UploadDropzoneProps {
  /** Called for each file once all its bytes are in: the dump it became is restoring. */
  onUploaded?: (dumpId: string, uploaded: Uploaded) => void;
}

type UploadState =
  | { state: 'sending'; progress: UploadProgress | null }
  | { state: 'sent'; uploaded: Uploaded }
  | { state: 'cancelled' }
  | { state: 'failed'; error: string };

interface Upload {
  key: number;
  file: File;
  controller: AbortController;
  status: UploadState;
}

/** Drop dump files here or pick them: each is uploaded with a progress bar (bytes, total, rate),
 *  then followed through its restore until it can be opened. */
export function UploadDropzone({ onUploaded }: UploadDropzoneProps) {
  const queries = useQueryClient();
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [dragging, setDragging] = useState(false);
  const nextKey = useRef(0);
  const controllers = useRef(new Set<AbortController>());
  // Leaving the page ends its uploads: nothing would show their progress any more, and the
  // server keeps the bytes of an upload that was cut off.
  useEffect(() => {
    const running = controllers.current;
    return () => running.forEach((controller) => controller.abort());
  }, []);

  const update = (key: number, status: UploadState) =>
    setUploads((current) => current.map((upload) => (upload.key === key ? { ...upload, status } : upload)));

  const start = (files: Iterable<File>) => {
    for (const file of files) {
      const key = nextKey.current++;
      const controller = new AbortController();
      controllers.current.add(controller);
      setUploads((current) => [...current, { key, file, controller, status: { state: 'sending', progress: null } }]);
      uploadFile(file, {
        signal: controller.signal,
        onProgress: (progress) => update(key, { state: 'sending', progress }),
      })
        .then((uploaded) => {
          queries.setQueryData(['dump', uploaded.dump.id], uploaded.dump);
          void queries.invalidateQueries({ queryKey: ['dumps'] });
          update(key, { state: 'sent', uploaded });
          onUploaded?.(uploaded.dump.id, uploaded);
        })
        .catch((error: unknown) => {
          if (controller.signal.aborted) update(key, { state: 'cancelled' });
          else update(key, { state: 'failed', error: error instanceof Error ? error.message : String(error) });
        })
        .finally(() => controllers.current.delete(controller));
    }
  };

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    start(event.dataTransfer.files);
  };

  return (
    <div className="upload">
      <div
        className={`dropzone${dragging ? ' dragging' : ''}`}
        onDragOver={(event) => {
          // Without this the browser opens the dropped file itself.
          event.preventDefault();
          event.dataTransfer.dropEffect = 'copy';
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <span>Drop dump files here (pg_dump in any format, pg_dumpall, gzip) or</span>
        <label className="file-picker">
          choose files
          <input
            type="file"
            multiple
            onChange={(event) => {
              start(event.target.files ?? []);
              // The same file can be picked again after a failure.
              event.target.value = '';
            }}
          />
        </label>
      </div>
      {uploads.length > 0 && (
        <ul className="uploads" aria-label="Uploads">
          {uploads.map(({ key, file, controller, status }) => (
            <li key={key}>
              <span className="upload-name">{file.name}</span>
              {status.state === 'sending' && (
                <SendingProgress
                  name={file.name}
                  progress={status.progress ?? { sent: 0, total: file.size, bytesPerSecond: 0, resuming: false }}
                  onCancel={() => controller.abort()}
                />
              )}
              {status.state === 'sent' && <Restore uploaded={status.uploaded} />}
              {status.state === 'cancelled' && (
                <span className="muted">Cancelled: the same file sent again goes on from where this stopped.</span>
              )}
              {status.state === 'failed' && (
                <span className="error" role="alert">
                  {status.error}
                </span>
              )}
              {status.state !== 'sending' && (
                <button
                  type="button"
                  className="ghost"
                  aria-label={`Dismiss ${file.name}`}
                  onClick={() => setUploads((current) => current.filter((other) => other.key !== key))}
                >
                  ×
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function SendingProgress({ name, progress, onCancel }: { name: string; progress: UploadProgress; onCancel: () => void }) {
  return (
    <>
      <progress aria-label={`Upload of ${name}`} max={progress.total || 1} value={progress.sent} />
      <span className="muted">
        {formatBytes(progress.sent)} of {formatBytes(progress.total)}
        {progress.bytesPerSecond > 0 && ` · ${formatBytes(progress.bytesPerSecond)}/s`}
        {progress.resuming && ' · connection lost, resuming…'}
      </span>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
    </>
  );
}

/** The uploaded file's restore, followed until it settles; once Ready, a link to it. */
function Restore({ uploaded }: { uploaded: Uploaded }) {
  const dump = useDump(uploaded.dump.id).data ?? uploaded.dump;
  const link = `/dumps/${dump.id}`;
  return (
    <>
      <span className="muted">
        uploaded {formatBytes(uploaded.bytes)}, SHA-256 <code>{uploaded.sha256}</code>
      </span>
      <DumpPhase dump={dump} />
      {dump.phase === 'Ready' && <Link to={link}>Open {dump.name}</Link>}
      {uploaded.shareToken && (
        <span>
          {/* Shown only now: the server keeps only its hash. The fragment never reaches a server. */}
          <a href={`${link}#share=${encodeURIComponent(uploaded.shareToken)}`}>Link with its share token</a>{' '}
          <span className="muted">(copy it now; it is not shown again)</span>
        </span>
      )}
    </>
  );
}
