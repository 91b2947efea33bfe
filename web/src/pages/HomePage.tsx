import { useEffect, useRef, useState } from 'react';
import { Link } from 'react-router';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, unwrap, type DumpInfo } from '../api/client';
import { useDumps } from '../api/queries';
import { formatBytes } from '../format';
import { ErrorMessage } from '../components/ErrorMessage';
import { DumpPhase } from '../components/DumpPhase';
import { UploadDropzone } from '../components/UploadDropzone';
import './HomePage.css';

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** Every dump the server has, uploading new ones, and deleting. */
export function HomePage() {
  const dumps = useDumps();
  const [deleting, setDeleting] = useState<DumpInfo | null>(null);

  return (
    <section className="home">
      <h1>Dumps</h1>
      <UploadDropzone />
      {dumps.error && <ErrorMessage error={dumps.error} />}
      {!dumps.data && !dumps.error && <p className="muted">Loading…</p>}
      {dumps.data?.length === 0 && <p className="muted">No dumps yet: upload one above.</p>}
      {!!dumps.data?.length && (
        <table className="plain dumps">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Phase</th>
              <th scope="col">Format</th>
              <th scope="col" className="number">
                Databases
              </th>
              <th scope="col" className="number">
                Tables
              </th>
              <th scope="col" className="number">
                Size
              </th>
              <th scope="col">Expires</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {dumps.data.map((dump) => (
              <tr key={dump.id}>
                <th scope="row">
                  <Link to={`/dumps/${dump.id}`}>{dump.name}</Link>
                </th>
                <td>
                  <DumpPhase dump={dump} />
                </td>
                <td>{dump.format ?? <span className="muted">—</span>}</td>
                {/* The databases are known once the restore has made them. */}
                <td className="number">{dump.databases.length || <span className="muted">—</span>}</td>
                <td className="number">{dump.tables ?? <span className="muted">—</span>}</td>
                <td className="number">{dump.sizeBytes == null ? <span className="muted">—</span> : formatBytes(dump.sizeBytes)}</td>
                <td>
                  {dump.expiresAt ? (
                    <time dateTime={dump.expiresAt}>{dateTime.format(new Date(dump.expiresAt))}</time>
                  ) : (
                    <span className="muted">never</span>
                  )}
                </td>
                <td>
                  <button type="button" aria-label={`Delete ${dump.name}`} onClick={() => setDeleting(dump)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {deleting && <ConfirmDelete dump={deleting} onClose={() => setDeleting(null)} />}
    </section>
  );
}

/** A modal that asks before deleting: nothing of a deleted dump can be brought back. */
function ConfirmDelete({ dump, onClose }: { dump: DumpInfo; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const queries = useQueryClient();
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE('/api/v1/dumps/{id}', { params: { path: { id: dump.id } } })),
    onSuccess: () => {
      // Only the list is asked again: the dump's own query may still be watched (an upload's
      // row), and asking for a deleted dump would only get a 404.
      void queries.invalidateQueries({ queryKey: ['dumps'] });
      onClose();
    },
  });
  useEffect(() => {
    // showModal (not the open attribute) makes it modal: focus moves in, Escape closes it.
    if (!dialog.current?.open) dialog.current?.showModal();
  }, []);

  return (
    <dialog ref={dialog} className="confirm-delete" aria-labelledby="confirm-delete-title" onClose={onClose}>
      <h2 id="confirm-delete-title">Delete {dump.name}?</h2>
      <p>Its sandbox databases, its schema graphs and its uploaded file are removed. This cannot be undone.</p>
      <ErrorMessage error={remove.error} />
      <div className="dialog-buttons">
        <button type="button" onClick={() => dialog.current?.close()} autoFocus>
          Cancel
        </button>
        <button type="button" className="danger" disabled={remove.isPending} onClick={() => remove.mutate()}>
          {remove.isPending ? 'Deleting…' : 'Delete'}
        </button>
      </div>
    </dialog>
  );
}
