import { useEffect, useState } from 'react';
import './CopyButton.css';

type CopyState = 'idle' | 'copied' | 'failed';

/** Copies `text` to the clipboard; says for a moment whether that worked (the clipboard can
 *  refuse, e.g. on a page that is not a secure context). */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [state, setState] = useState<CopyState>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const timer = setTimeout(() => setState('idle'), 1500);
    return () => clearTimeout(timer);
  }, [state]);
  return (
    <button
      type="button"
      className="copy-button"
      aria-label={label}
      onClick={() => {
        navigator.clipboard.writeText(text).then(
          () => setState('copied'),
          () => setState('failed'),
        );
      }}
    >
      {state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed' : 'Copy'}
    </button>
  );
}

/** A statement the page's numbers came from, with its parameters, and a copy button. */
export function SqlBlock({ sql, params, label }: { sql: string; params?: (string | null)[]; label: string }) {
  return (
    <details className="sql-block">
      <summary>SQL</summary>
      <div className="sql-block-body">
        <pre>{sql}</pre>
        {params && params.length > 0 && (
          <p className="muted mono">
            {params.map((param, index) => `$${index + 1} = ${param === null ? 'NULL' : `'${param}'`}`).join(', ')}
          </p>
        )}
        <CopyButton text={sql} label={label} />
      </div>
    </details>
  );
}
