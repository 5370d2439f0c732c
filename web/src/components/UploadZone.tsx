import { useEffect, useId, useState, type DragEvent } from 'react';
import { formatBytes } from '../format';
import { useI18n } from '../i18n/context';
import { checkUploadMeta, sniffImage } from '../upload';

export interface PickedImage {
  file: File;
  url: string;
  width: number;
  height: number;
}

interface Props {
  maxBytes: number;
  value: PickedImage | null;
  onChange: (v: PickedImage | null) => void;
}

function loadDimensions(url: string): Promise<{ width: number; height: number }> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve({ width: img.naturalWidth, height: img.naturalHeight });
    img.onerror = () => reject(new Error('unreadable'));
    img.src = url;
  });
}

/**
 * UploadZone takes one product photo by drop or file picker, checks its type
 * (declared and by content) and size, and previews it. The page uploads it
 * (POST /api/v1/uploads) once it passes these checks.
 */
export function UploadZone({ maxBytes, value, onChange }: Props) {
  const { t } = useI18n();
  const id = useId();
  const [error, setError] = useState('');
  const [dragging, setDragging] = useState(false);
  const [busy, setBusy] = useState(false);

  // Release the preview's object URL when it is replaced or the page closes.
  useEffect(() => {
    if (!value) return;
    return () => URL.revokeObjectURL(value.url);
  }, [value]);

  const accept = async (file: File | undefined) => {
    if (!file) return;
    setError('');
    const max = formatBytes(maxBytes);
    const bad = checkUploadMeta(file.name, file.type, file.size, maxBytes);
    if (bad?.kind === 'type') return setError(t('upload.badType', { name: file.name }));
    if (bad?.kind === 'empty') return setError(t('upload.empty'));
    if (bad?.kind === 'size') return setError(t('upload.tooLarge', { size: formatBytes(file.size), max }));
    setBusy(true);
    try {
      const head = new Uint8Array(await file.slice(0, 16).arrayBuffer());
      if (!sniffImage(head)) return setError(t('upload.badType', { name: file.name }));
      const url = URL.createObjectURL(file);
      try {
        const dim = await loadDimensions(url);
        onChange({ file, url, ...dim });
      } catch {
        URL.revokeObjectURL(url);
        setError(t('upload.unreadable'));
      }
    } finally {
      setBusy(false);
    }
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    void accept(e.dataTransfer.files[0]);
  };

  const inputId = `${id}-file`;
  const hintId = `${id}-hint`;
  const errId = `${id}-err`;

  return (
    <div className="upload">
      <input
        id={inputId}
        className="sr-only"
        type="file"
        accept="image/jpeg,image/png,image/webp,.jpg,.jpeg,.png,.webp"
        aria-describedby={error ? `${hintId} ${errId}` : hintId}
        aria-invalid={error ? true : undefined}
        onChange={(e) => {
          void accept(e.target.files?.[0]);
          e.target.value = '';
        }}
      />
      {value ? (
        <div className="upload-preview">
          <img src={value.url} alt={t('upload.previewAlt', { name: value.file.name })} />
          <div className="upload-meta">
            <div className="mono small">
              {t('upload.info', { name: value.file.name, size: formatBytes(value.file.size), width: value.width, height: value.height })}
            </div>
            <div className="row">
              <label htmlFor={inputId} className="btn btn-small">
                {t('upload.replace')}
              </label>
              <button type="button" className="btn btn-small btn-ghost" onClick={() => onChange(null)}>
                {t('upload.remove')}
              </button>
            </div>
            <p id={hintId} className="muted small">
              {t('upload.rules', { max: formatBytes(maxBytes) })}
            </p>
          </div>
        </div>
      ) : (
        <label
          htmlFor={inputId}
          className={`dropzone${dragging ? ' is-dragging' : ''}${busy ? ' is-busy' : ''}`}
          onDragOver={(e) => {
            e.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={onDrop}
        >
          <svg aria-hidden="true" width="40" height="40" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="1.5">
            <path d="M12 16V4m0 0-4 4m4-4 4 4" strokeLinecap="round" strokeLinejoin="round" />
            <path d="M4 15v3a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-3" strokeLinecap="round" />
          </svg>
          <span className="dropzone-title">{t('upload.drop')}</span>
          <span id={hintId} className="muted small">
            {t('upload.rules', { max: formatBytes(maxBytes) })}
          </span>
        </label>
      )}
      {error && (
        <p id={errId} className="field-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
