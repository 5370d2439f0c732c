// Client-side checks of the product photo before it is sent anywhere. The
// server checks again; these only spare the user a pointless upload.

export const DEFAULT_MAX_UPLOAD_BYTES = 5 * 1024 * 1024;

export type ImageKind = 'jpeg' | 'png' | 'webp';

const MIME: Record<string, ImageKind> = { 'image/jpeg': 'jpeg', 'image/png': 'png', 'image/webp': 'webp' };
const EXT: Record<string, ImageKind> = { jpg: 'jpeg', jpeg: 'jpeg', png: 'png', webp: 'webp' };

/** sniffImage recognises JPEG, PNG and WebP by their leading bytes. */
export function sniffImage(b: Uint8Array): ImageKind | null {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'png';
  if (
    b.length >= 12 &&
    b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 &&
    b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50
  ) return 'webp';
  return null;
}

export type UploadProblem = { kind: 'type' } | { kind: 'size' } | { kind: 'empty' };

/**
 * checkUploadMeta validates what is known before reading the file: the
 * declared type (or, when the browser gives none, the extension) and the size.
 */
export function checkUploadMeta(name: string, type: string, size: number, maxBytes: number): UploadProblem | null {
  const ext = name.toLowerCase().split('.').pop() ?? '';
  const kind = type ? MIME[type] : EXT[ext];
  if (!kind) return { kind: 'type' };
  if (size === 0) return { kind: 'empty' };
  if (size > maxBytes) return { kind: 'size' };
  return null;
}

/** maxUploadBytes reads the limit from /api/v1/meta's limits when the server advertises one. */
export function maxUploadBytes(limits: Record<string, unknown> | null | undefined): number {
  for (const k of ['upload_max_bytes', 'max_upload_bytes', 'upload_bytes']) {
    const v = limits?.[k];
    if (typeof v === 'number' && v > 0) return v;
  }
  return DEFAULT_MAX_UPLOAD_BYTES;
}
