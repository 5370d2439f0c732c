// The e2e product photo: a solar street light (panel, pole, lamp head) drawn
// on a light studio background and encoded as a PNG with node:zlib, so the
// repository needs no binary fixture. 600×800 passes the server's checks
// (short side ≥ 256 px, aspect ≤ 4) and is deterministic: same bytes on every run.

import { deflateSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** encodePNG encodes RGB pixels (width*height*3 bytes) as an 8-bit truecolour PNG. */
export function encodePNG(width, height, rgb) {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0; // filter: none
    rgb.copy(raw, y * (width * 3 + 1) + 1, y * width * 3, (y + 1) * width * 3);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** lampPhoto returns the PNG bytes of the e2e product photo. */
export function lampPhoto(width = 600, height = 800) {
  const px = Buffer.alloc(width * height * 3);
  const set = (x, y, r, g, b) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const i = (y * width + x) * 3;
    px[i] = r;
    px[i + 1] = g;
    px[i + 2] = b;
  };
  const rect = (x0, y0, x1, y1, c) => {
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) set(x, y, ...c);
  };
  // Studio background: a soft vertical gradient.
  for (let y = 0; y < height; y++) {
    const v = 242 - Math.round((y / height) * 30);
    rect(0, y, width, y + 1, [v, v, v + 4]);
  }
  const cx = Math.round(width / 2);
  // Pole and base.
  rect(cx - 9, 150, cx + 9, height - 90, [70, 74, 82]);
  rect(cx - 45, height - 90, cx + 45, height - 70, [50, 52, 58]);
  // Solar panel on a bracket, tilted look with cells.
  rect(cx - 150, 70, cx + 150, 160, [20, 40, 90]);
  for (let x = cx - 150; x < cx + 150; x += 30) rect(x, 70, x + 2, 160, [120, 150, 200]);
  for (let y = 70; y < 160; y += 30) rect(cx - 150, y, cx + 150, y + 2, [120, 150, 200]);
  // Arm and lamp head with a warm LED face.
  rect(cx + 9, 220, cx + 170, 232, [70, 74, 82]);
  rect(cx + 120, 212, cx + 250, 246, [90, 94, 102]);
  rect(cx + 130, 246, cx + 240, 256, [255, 214, 120]);
  // Battery box on the pole.
  rect(cx - 40, 330, cx + 40, 420, [200, 204, 210]);
  rect(cx - 30, 345, cx + 30, 355, [60, 160, 90]);
  return encodePNG(width, height, px);
}
