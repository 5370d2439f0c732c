import { describe, expect, it } from 'vitest';
import { formatBytes, normalizeSearch } from './format';
import { checkUploadMeta, DEFAULT_MAX_UPLOAD_BYTES, maxUploadBytes, sniffImage } from './upload';

describe('upload checks', () => {
  const MAX = DEFAULT_MAX_UPLOAD_BYTES;
  it('accepts jpg/png/webp up to 5 MiB', () => {
    expect(checkUploadMeta('a.jpg', 'image/jpeg', 1000, MAX)).toBeNull();
    expect(checkUploadMeta('a.png', 'image/png', MAX, MAX)).toBeNull();
    expect(checkUploadMeta('a.webp', '', 10, MAX)).toBeNull();
  });
  it('refuses other types, empty and large files', () => {
    expect(checkUploadMeta('a.gif', 'image/gif', 10, MAX)).toEqual({ kind: 'type' });
    expect(checkUploadMeta('a.heic', '', 10, MAX)).toEqual({ kind: 'type' });
    expect(checkUploadMeta('a.jpg', 'image/jpeg', 0, MAX)).toEqual({ kind: 'empty' });
    expect(checkUploadMeta('a.jpg', 'image/jpeg', MAX + 1, MAX)).toEqual({ kind: 'size' });
  });
  it('sniffs the content', () => {
    expect(sniffImage(new Uint8Array([0xff, 0xd8, 0xff, 0xe0]))).toBe('jpeg');
    expect(sniffImage(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe('png');
    expect(sniffImage(new TextEncoder().encode('RIFF\0\0\0\0WEBPVP8 '))).toBe('webp');
    expect(sniffImage(new TextEncoder().encode('GIF89a'))).toBeNull();
  });
  it('reads the limit from meta when present', () => {
    expect(maxUploadBytes(null)).toBe(MAX);
    expect(maxUploadBytes({ upload_max_bytes: 1024 })).toBe(1024);
  });
});

describe('format', () => {
  it('formats bytes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(5 * 1024 * 1024)).toBe('5 MiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
  });
  it('normalizes search text', () => {
    expect(normalizeSearch('Xīndū Qū')).toBe('xinduqu');
    expect(normalizeSearch('邢台县')).toBe('邢台县');
  });
});
