// The operator's day after a batch (issue 17): picking, single downloads,
// regenerate with versions, the post kit (fake DeepSeek and its fallback),
// the compare view, the lightbox by keyboard, manual mode's removal notice,
// the Tab count to 开始生成, and on every page: no horizontal overflow at
// 390 px and no serious or critical axe-core violation. It also takes the
// user manual's screenshots (docs/manual/images) at a fixed 1280×800.

import { createRequire } from 'node:module';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { lampPhoto } from './fixture.mjs';

const require = createRequire(import.meta.url);
// Injected with evaluate (DevTools protocol): the app's CSP forbids inline scripts, rightly.
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** The entries of a zip (central directory), names decoded as UTF-8. */
export function zipEntries(buf) {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip: no end of central directory');
  const n = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out = [];
  for (let k = 0; k < n; k++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('bad central directory entry');
    const method = buf.readUInt16LE(p + 10);
    const csize = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    const lNameLen = buf.readUInt16LE(local + 26);
    const lExtraLen = buf.readUInt16LE(local + 28);
    const raw = buf.subarray(local + 30 + lNameLen + lExtraLen, local + 30 + lNameLen + lExtraLen + csize);
    out.push({ name, data: () => (method === 8 ? inflateRawSync(raw) : raw) });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

const READABLE = /^\d\d_[^_/]+_\d{1,2}月_[^_/.]+\.(jpg|png)$/;

export async function operatorSteps(h) {
  const { page, step, check, shot, log, BASE_URL, batchId, FAKE_URL, SHOTS_DIR } = h;
  const manualDir = join(SHOTS_DIR, 'manual');
  mkdirSync(manualDir, { recursive: true });
  /** A manual screenshot: fixed 1280×800 viewport (or the phone), the visible part. */
  const manualShot = async (name, { full = false } = {}) => {
    const file = join(manualDir, `${name}.png`);
    await page.screenshot({ path: file, fullPage: full });
    log(`manual shot ${file}`);
  };
  const batchUrl = `/batches/${encodeURIComponent(batchId)}`;
  const openBatch = async () => {
    // A step that failed may have left the lightbox open.
    if (await page.getByTestId('lightbox').count()) await page.keyboard.press('Escape');
    if (new URL(page.url()).pathname !== batchUrl) await page.goto(BASE_URL + batchUrl);
    await page.getByTestId('batch-page').waitFor();
    await page.locator('[data-testid=batch-page][data-status=succeeded], [data-testid=batch-page][data-status=partially_failed]').waitFor({ timeout: 60000 });
  };
  const batch = async () => (await page.request.get(`${BASE_URL}/api/v1/batches/${encodeURIComponent(batchId)}`)).json();
  await page.setViewportSize({ width: 1280, height: 800 });

  await step('the app links to the manual, which the binary serves with its screenshots', async () => {
    await openBatch();
    const href = await page.getByTestId('manual-link').getAttribute('href');
    const res = await page.request.get(new URL(href, BASE_URL).href);
    check(res.status() === 200 && (await res.text()).includes('使用手册'), `manual index answered ${res.status()}`);
    const zh = await (await page.request.get(`${BASE_URL}/manual/zh-CN`)).text();
    const imgs = [...zh.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]);
    check(imgs.length >= 10, `the zh-CN manual shows ${imgs.length} images`);
    const img = await page.request.get(new URL(imgs[0], `${BASE_URL}/manual/zh-CN`).href);
    check(img.status() === 200 && img.headers()['content-type'] === 'image/png', `manual image answered ${img.status()}`);
  });

  await step('grid images are at least 2× their rendered size, at the image\'s own aspect ratio, never cropped', async () => {
    await openBatch();
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=slot] img')].every((i) => i.complete && i.naturalWidth > 0));
    const b = await batch();
    const dims = Object.fromEntries(b.groups.flatMap((g) => g.images.map((im) => [im.id, [im.width, im.height]])));
    for (const [w, hgt] of [[1280, 800], [390, 844]]) {
      await page.setViewportSize({ width: w, height: hgt });
      await page.waitForTimeout(300);
      await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=slot] img')].every((i) => i.complete && i.naturalWidth > 0));
      // naturalWidth of a srcset image is density-corrected; load currentSrc
      // alone to read the file's own pixel size.
      const imgs = await page.$$eval('[data-testid=slot]', (slots) =>
        Promise.all(
          slots
            .filter((s) => s.querySelector('img'))
            .map(async (s) => {
              const i = s.querySelector('img');
              const r = i.getBoundingClientRect();
              const raw = new Image();
              raw.src = i.currentSrc;
              await raw.decode();
              return { id: s.dataset.imageId, nw: raw.naturalWidth, nh: raw.naturalHeight, rw: r.width, rh: r.height, src: i.currentSrc };
            }),
        ),
      );
      check(imgs.length >= 4, `only ${imgs.length} grid images`);
      for (const i of imgs) {
        const [iw, ih] = dims[i.id];
        check(i.nw >= 2 * i.rw - 0.5, `${w}px: image ${i.id} is ${i.nw}px wide for ${i.rw.toFixed(1)}px shown (< 2×)`);
        check(Math.abs(i.nw / i.nh - iw / ih) < 0.01, `${w}px: thumbnail aspect ${i.nw}×${i.nh} ≠ image ${iw}×${ih}`);
        check(Math.abs(i.rw / i.rh - iw / ih) < 0.02, `${w}px: shown at ${i.rw.toFixed(0)}×${i.rh.toFixed(0)}, image is ${iw}×${ih} (cropped or stretched)`);
      }
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  let starredNames = [];
  await step('star two images, download the selection: the zip holds exactly those two, readable names', async () => {
    await openBatch();
    const slots = page.locator('[data-testid=slot][data-status=succeeded]');
    for (const n of [0, 5]) {
      await slots.nth(n).locator('.slot-img').click();
      const box = page.getByTestId('lightbox');
      await box.waitFor();
      const star = box.getByTestId('star');
      const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/star') && r.request().method() === 'PUT'), star.click()]);
      check(res.status() === 200, `star answered ${res.status()}`);
      await box.locator('[data-testid=star][aria-pressed=true]').waitFor();
      await page.keyboard.press('Escape');
      await box.waitFor({ state: 'detached' });
    }
    await page.waitForFunction(() => document.querySelectorAll('.slot.is-starred').length === 2);
    await page.getByTestId('only-starred').check();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=group-card] [data-testid=slot]').length === 2);
    const b = await batch();
    const byId = Object.fromEntries(b.groups.flatMap((g) => g.images.map((im) => [im.id, im])));
    const ids = await page.$$eval('[data-testid=group-card] [data-testid=slot]', (s) => s.map((x) => x.dataset.imageId));
    starredNames = ids.map((id) => byId[id].file_name).sort();
    for (const box of await page.getByTestId('select').all()) await box.check();
    await manualShot('picking');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-selected').click()]);
    const res = await page.request.get(dl.url());
    check(res.status() === 200, `selection zip answered ${res.status()}`);
    await dl.cancel().catch(() => {});
    const names = zipEntries(await res.body())
      .map((e) => e.name)
      .filter((n) => /\.(jpg|png)$/.test(n))
      .sort();
    check(JSON.stringify(names) === JSON.stringify(starredNames), `zip holds ${JSON.stringify(names)}, starred ${JSON.stringify(starredNames)}`);
    for (const n of names) check(READABLE.test(n), `unreadable name ${n}`);
    await page.getByTestId('only-starred').uncheck();
    log(`note selection zip: ${names.join(', ')}`);
  });

  await step('a single image downloads under its readable name', async () => {
    await page.locator('[data-testid=slot][data-status=succeeded] .slot-img').first().click();
    const box = page.getByTestId('lightbox');
    await box.waitFor();
    const [dl] = await Promise.all([page.waitForEvent('download'), box.getByTestId('download-one').click()]);
    check(READABLE.test(dl.suggestedFilename()), `single download named ${dl.suggestedFilename()}`);
    await dl.cancel().catch(() => {});
    await page.keyboard.press('Escape');
  });

  await step('lightbox by keyboard: position, arrows, focus trap, Escape returns focus', async () => {
    const opener = page.locator('[data-testid=slot][data-status=succeeded] .slot-img').first();
    await opener.focus();
    await page.keyboard.press('Enter');
    const box = page.getByTestId('lightbox');
    await box.waitFor();
    const pos = page.getByTestId('lightbox-position');
    const first = await pos.innerText();
    check(/^第 1 \/ \d+ 张$/.test(first), `position reads "${first}"`);
    check(await page.evaluate(() => !!document.activeElement?.closest('[data-testid=lightbox]')), 'focus is not in the lightbox');
    await page.keyboard.press('ArrowRight');
    check((await pos.innerText()).startsWith('第 2 /'), `after → the position reads "${await pos.innerText()}"`);
    await page.keyboard.press('ArrowLeft');
    check((await pos.innerText()).startsWith('第 1 /'), 'after ← the position is not 1');
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press(i % 7 === 6 ? 'Shift+Tab' : 'Tab');
      check(await page.evaluate(() => !!document.activeElement?.closest('[data-testid=lightbox]')), `Tab #${i + 1} left the dialog`);
    }
    await page.getByTestId('lightbox').locator('button', { hasText: '关闭' }).focus();
    await manualShot('lightbox');
    await page.keyboard.press('Escape');
    await box.waitFor({ state: 'detached' });
    check(await page.evaluate(() => document.activeElement?.classList.contains('slot-img')), 'focus did not return to the opened image');
  });

  await step('regenerate one image: a new version appears live, the old one stays selectable', async () => {
    await openBatch();
    const slot = page.locator('[data-testid=slot][data-status=succeeded]').nth(2);
    const imageId = await slot.getAttribute('data-image-id');
    const before = await slot.locator('img').getAttribute('src');
    await slot.locator('.slot-img').click();
    const box = page.getByTestId('lightbox');
    await box.waitFor();
    await box.getByLabel('重新生成这张（可选说明）').fill('灯更大一些');
    const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/regenerate')), box.getByTestId('regenerate').click()]);
    check(res.status() === 202, `regenerate answered ${res.status()}`);
    // Live: the batch goes back to work and settles again, the image with a new result.
    await page.locator('[data-testid=batch-page][data-status=succeeded], [data-testid=batch-page][data-status=partially_failed]').waitFor({ timeout: 60000 });
    const versions = box.getByTestId('version');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=lightbox] [data-testid=version]').length === 2, null, { timeout: 60000 });
    check((await versions.nth(1).getAttribute('aria-pressed')) === 'true', 'the new version is not current');
    await manualShot('regenerate');
    await page.keyboard.press('Escape');
    const after = await page.locator(`[data-testid=slot][data-image-id="${imageId}"] img`).getAttribute('src');
    check(after && after !== before, 'the grid still shows the old image');
    await page.locator(`[data-testid=slot][data-image-id="${imageId}"] .slot-img`).click();
    await box.waitFor();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=lightbox] [data-testid=version]').length === 2);
    const [sel] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/select')), versions.nth(0).click()]);
    check(sel.status() === 200, `select answered ${sel.status()}`);
    // The version list reloads once the image's current result changed.
    await page
      .waitForFunction(() => document.querySelector('[data-testid=lightbox] [data-testid=version]')?.getAttribute('aria-pressed') === 'true', null, { timeout: 15000 })
      .catch(() => check(false, 'the old version did not become current'));
    await page.keyboard.press('Escape');
    await page.waitForFunction(
      ([id, src]) => document.querySelector(`[data-testid=slot][data-image-id="${id}"] img`)?.getAttribute('src') === src,
      [imageId, before],
    );
  });

  await step('post kit: written by the fake DeepSeek, and by the template when DeepSeek fails', async () => {
    await openBatch();
    const kit = page.getByTestId('post-kit').first();
    await kit.locator('summary').click();
    let [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/note') && r.request().method() === 'POST'), kit.getByTestId('kit-write').click()]);
    check(res.status() === 201, `note answered ${res.status()}`);
    await kit.locator('[data-testid=kit-fields][data-source=deepseek]').waitFor();
    const title = await kit.locator('input[id$=-title]').inputValue();
    const body = await kit.locator('textarea').inputValue();
    check([...title].length <= 20 && [...title].length > 0, `title "${title}"`);
    check([...body].length >= 100 && [...body].length <= 300, `body has ${[...body].length} characters`);
    await kit.scrollIntoViewIfNeeded();
    await manualShot('post-kit');
    if (!FAKE_URL) {
      log('note FAKE_URL not set: the DeepSeek failure path is covered by the Go tests only');
      return;
    }
    const sc = await fetch(`${FAKE_URL}/_fake/scenarios`, { method: 'POST', body: JSON.stringify({ api: 'deepseek', steps: ['500'] }) });
    check(sc.ok, `fake scenario answered ${sc.status}`);
    [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/note') && r.request().method() === 'POST'), kit.getByTestId('kit-write').click()]);
    check(res.status() === 201, `note answered ${res.status()}`);
    const note = await res.json();
    check(note.source === 'template' && note.fallback_reason, `after a DeepSeek 500 the note came from ${note.source} (${note.fallback_reason})`);
    await kit.locator('[data-testid=kit-fields][data-source=template]').waitFor();
    await kit.getByText('DeepSeek 暂时不可用，已改用模板').waitFor();
  });

  await step('the event log reads as words, no raw event names', async () => {
    await openBatch();
    const log = page.locator('details.activity');
    await log.locator('summary').click();
    await page.waitForFunction(() => document.querySelectorAll('.activity-list li').length > 5);
    const text = await log.innerText();
    const raw = text.match(/\b(batch|image|group)[._][a-z_]+|\bprogress\b|queue_position|image_status/);
    check(!raw, `the event log shows "${raw?.[0]}"`);
    await log.locator('summary').click();
  });

  await step('compare view: one variant across every group', async () => {
    await openBatch();
    await page.getByTestId('compare-toggle').click();
    const b = await batch();
    await page.getByTestId('compare').waitFor();
    check((await page.getByTestId('compare-cell').count()) === b.groups.length, 'compare view does not show one image per group');
    await page.getByTestId('compare').getByRole('button').nth(1).click();
    await manualShot('compare');
    await page.getByRole('button', { name: '按组' }).click();
  });

  await step('manual mode says which elements it removed and why', async () => {
    await page.goto(BASE_URL + '/new');
    await page.getByRole('tab', { name: /手动模式/ }).click();
    const search = page.getByRole('combobox', { name: /快速搜索县区/ });
    await search.fill('漠河');
    await page.getByRole('listbox').getByRole('option').first().waitFor();
    await search.press('Enter');
    await page.selectOption('#manual-month', '1');
    await page.selectOption('#manual-road', { index: 1 });
    await page.locator('.element-groups').waitFor({ timeout: 10000 });
    const winter = page.locator('label.chip', { hasText: /雪|冰/ }).first();
    await winter.waitFor({ timeout: 10000 });
    const name = (await winter.innerText()).trim();
    await winter.click();
    await page.locator('label.chip.is-on', { hasText: name }).waitFor();
    await page.selectOption('#manual-month', '7');
    const note = page.getByTestId('elements-removed');
    await note.waitFor();
    const text = await note.innerText();
    check(text.includes(name) && (text.includes('七月') || text.includes('7')), `removal notice says "${text}" (picked ${name})`);
    await manualShot('manual-mode', { full: false });
  });

  await step('开始生成 is at most 25 Tab presses from the top of the page', async () => {
    await page.goto(BASE_URL + '/new');
    await page.getByRole('tab', { name: /智能模式/ }).click();
    await page.locator('.upload input[type=file]').setInputFiles({ name: 'solar-lamp.png', mimeType: 'image/png', buffer: lampPhoto() });
    await page.getByTestId('upload-done').waitFor();
    await page.evaluate(() => {
      window.scrollTo(0, 0);
      document.activeElement?.blur?.();
    });
    let presses = 0;
    for (; presses < 80; presses++) {
      const label = await page.evaluate(() => (document.activeElement?.tagName === 'BUTTON' ? document.activeElement.textContent : '') ?? '');
      if (label.includes('开始生成')) break;
      await page.keyboard.press('Tab');
    }
    log(`note ${presses} Tab presses reach 开始生成`);
    check(presses <= 25, `${presses} Tab presses to 开始生成`);
    await manualShot('new-batch', { full: false });
    await page.setViewportSize({ width: 390, height: 844 });
    await manualShot('new-batch-phone');
    const sticky = await page.evaluate(() => {
      const bar = document.querySelector('.actions-bar');
      const r = bar.getBoundingClientRect();
      return r.bottom <= window.innerHeight + 1 && r.top < window.innerHeight;
    });
    check(sticky, 'the generate bar is not in view on a phone');
    await page.setViewportSize({ width: 1280, height: 800 });
  });
}

/** The signed-out login page: no overflow at 390 px, no serious axe-core violation. */
export async function loginPage(h) {
  const { page, step, check, BASE_URL } = h;
  await step('/login: no horizontal overflow at 390 px, no serious axe-core violation', async () => {
    for (const [w, hgt] of [[1280, 800], [390, 844]]) {
      await page.setViewportSize({ width: w, height: hgt });
      await page.goto(BASE_URL + '/login');
      await page.locator('input[type=password]').waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      check(overflow <= 0, `${w}px: scrollWidth exceeds the window by ${overflow}px`);
      await page.evaluate(AXE);
      const res = await page.evaluate(async () => {
        // eslint-disable-next-line no-undef
        const r = await axe.run(document, { resultTypes: ['violations'] });
        return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact})`);
      });
      check(res.length === 0, `${w}px axe: ${res.join('; ')}`);
    }
    await page.setViewportSize({ width: 1366, height: 900 });
  });
}

/** Every page: no horizontal overflow at 390 px, axe-core without serious or critical violations. */
export async function everyPage(h) {
  const { page, step, check, log, BASE_URL, batchId, shot } = h;
  const pages = [
    ['/new', 'new-batch'],
    ['/history', 'history'],
    [`/batches/${encodeURIComponent(batchId)}`, 'batch'],
    ['/pool', 'pool'],
    ['/account', 'account'],
    ['/account/settings', 'settings'],
    ['/admin/users', 'admin-users'],
    ['/admin/audit', 'admin-audit'],
    ['/admin/providers', 'admin-providers'],
  ];
  for (const [path, name] of pages) {
    await step(`${path}: no horizontal overflow at 390 px, no serious axe-core violation`, async () => {
      for (const [w, hgt] of [[1280, 800], [390, 844]]) {
        await page.setViewportSize({ width: w, height: hgt });
        await page.goto(BASE_URL + path);
        await page.locator('main h1').first().waitFor();
        await page.waitForLoadState('networkidle').catch(() => {});
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        check(overflow <= 0, `${w}px: scrollWidth exceeds the window by ${overflow}px`);
        await page.evaluate(AXE);
        const res = await page.evaluate(async () => {
          // eslint-disable-next-line no-undef
          const r = await axe.run(document, { resultTypes: ['violations'] });
          return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.nodes.length} × ${v.nodes[0]?.target}`);
        });
        check(res.length === 0, `${w}px axe: ${res.join('; ')}`);
      }
      if (name === 'admin-providers') {
        await page.setViewportSize({ width: 1280, height: 800 });
        await page.goto(BASE_URL + path);
        await page.getByTestId('admin-providers').waitFor();
        await page.getByTestId('probe').click();
        await page.getByTestId('probe-results').waitFor();
        await page.screenshot({ path: join(h.SHOTS_DIR, 'manual', 'admin-providers.png') });
      }
      if (name === 'history' || name === 'settings' || name === 'account') {
        await page.setViewportSize({ width: 1280, height: 800 });
        await page.goto(BASE_URL + path);
        await page.locator('main h1').first().waitFor();
        await page.waitForLoadState('networkidle').catch(() => {});
        await page.screenshot({ path: join(h.SHOTS_DIR, 'manual', `${name}.png`) });
      }
      void shot;
      void log;
    });
  }
  await page.setViewportSize({ width: 1366, height: 900 });
}
