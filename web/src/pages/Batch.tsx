import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import { api, type Batch, type BatchGroup, type BatchImage, type SignedLink } from '../api';
import { isRetryableImage, isTerminalBatch, type LiveEvent } from '../batch/live';
import { ProblemPanel, StatusPill, useLabels } from '../batch/ui';
import { useBatchLive, type LiveMode } from '../batch/useBatchLive';
import { CopyButton, ErrorNote, Notice, PageHeader, Spinner, copyText } from '../components/common';
import { formatMoney } from '../format';
import { useBusyAction } from '../hooks';
import { useI18n } from '../i18n/context';
import { Link, navigate } from '../router';
import { BatchName, CardImage, PostKit, Regenerate, StarButton, Versions } from '../batch/Picking';

const ACTIVE = new Set(['queued', 'running', 'paused', 'waiting_provider']);
const PAUSABLE = new Set(['queued', 'running', 'waiting_provider']);

function shortId(id: string): string {
  return id.length > 12 ? id.slice(-8) : id;
}

function absolute(url: string): string {
  try {
    return new URL(url, window.location.origin).href;
  } catch {
    return url;
  }
}

export function BatchPage({ id }: { id: string }) {
  const { t, problem } = useI18n();
  const live = useBatchLive(id);
  const b = live.state.batch;
  const [lightbox, setLightbox] = useState<string | null>(null);
  const [onlyStarred, setOnlyStarred] = useState(false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [view, setView] = useState<'groups' | 'compare'>('groups');

  if (!b) {
    return (
      <section>
        <PageHeader title={t('batch.title')}>
          <span className="mono">{id}</span>
        </PageHeader>
        {live.error ? (
          <>
            <ErrorNote error={live.error} onRetry={live.refresh} />
            <Link to="/history" className="btn">
              {t('batch.back')}
            </Link>
          </>
        ) : (
          <Spinner />
        )}
      </section>
    );
  }

  const images = b.groups.flatMap((g) => g.images.map((im) => ({ im, g })));
  const viewable = images.filter((x) => x.im.status === 'succeeded' && x.im.urls?.preview && (!onlyStarred || x.im.starred));
  const starredCount = images.filter((x) => x.im.starred && x.im.status === 'succeeded').length;
  const chosen = images.filter((x) => selected.has(x.im.id) && x.im.status === 'succeeded');
  const toggle = (id: string) =>
    setSelected((prev) => {
      const next = new Set(prev);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const picking: PickingProps = { onlyStarred, selected, toggle, changed: live.refresh };

  return (
    <section
      className="batch-page"
      data-testid="batch-page"
      data-status={b.status}
      data-succeeded={b.progress.succeeded}
      data-total={b.progress.total}
      data-live={live.mode}
    >
      <PageHeader title={b.name || t('batch.titleId', { id: shortId(b.id) })}>
        <span className="batch-head">
          <StatusPill status={b.status} />
          <LiveBadge mode={live.mode} />
          <Link to="/history" className="small">
            ← {t('batch.back')}
          </Link>
        </span>
      </PageHeader>
      {live.error ? <Notice kind="warn">{t('batch.fetchError', { message: problem(live.error) })}</Notice> : null}

      <Summary b={b} />
      <Actions b={b} apply={live.apply} />

      <section className="card pick-bar" aria-label={t('pick.bar')}>
        <BatchName b={b} onSaved={live.refresh} />
        <div className="row wrap pick-tools">
          <div className="segmented" role="group" aria-label={t('pick.view')}>
            <button type="button" className={`btn btn-small${view === 'groups' ? ' is-on' : ''}`} aria-pressed={view === 'groups'} onClick={() => setView('groups')}>
              {t('pick.viewGroups')}
            </button>
            <button
              type="button"
              className={`btn btn-small${view === 'compare' ? ' is-on' : ''}`}
              aria-pressed={view === 'compare'}
              data-testid="compare-toggle"
              onClick={() => setView('compare')}
            >
              {t('pick.viewCompare')}
            </button>
          </div>
          <label className="check">
            <input type="checkbox" checked={onlyStarred} data-testid="only-starred" onChange={(e) => setOnlyStarred(e.target.checked)} />{' '}
            {t('pick.onlyStarred', { count: starredCount })}
          </label>
          {chosen.length > 0 ? (
            <a className="btn btn-small btn-primary" href={`${b.download}?images=${chosen.map((x) => x.im.id).join(',')}`} download data-testid="download-selected">
              {t('pick.downloadSelected', { count: chosen.length })}
            </a>
          ) : null}
          {chosen.length > 0 ? (
            <button type="button" className="btn btn-small btn-ghost" onClick={() => setSelected(new Set())}>
              {t('pick.clearSelection')}
            </button>
          ) : null}
          {starredCount > 0 && b.starred_download ? (
            <a className="btn btn-small" href={b.starred_download} download data-testid="download-starred">
              {t('pick.downloadStarred', { count: starredCount })}
            </a>
          ) : null}
        </div>
      </section>

      {view === 'compare' ? (
        <CompareView b={b} picking={picking} onOpen={setLightbox} />
      ) : (
        <div className="group-grid">
          {b.groups.map((g) => (
            <GroupCard key={g.id} b={b} g={g} apply={live.apply} onOpen={setLightbox} picking={picking} />
          ))}
        </div>
      )}

      <ActivityLog log={live.state.log} seq={live.state.seq} b={b} load={live.loadLog} />

      {lightbox && (
        <Lightbox
          b={b}
          items={viewable}
          current={lightbox}
          onMove={setLightbox}
          onClose={() => setLightbox(null)}
          apply={live.apply}
          changed={live.refresh}
        />
      )}
    </section>
  );
}

interface PickingProps {
  onlyStarred: boolean;
  selected: Set<string>;
  toggle: (id: string) => void;
  changed: () => void;
}

function LiveBadge({ mode }: { mode: LiveMode }) {
  const { t } = useI18n();
  return (
    <span className={`live-badge live-${mode}`} title={t(`batch.live.${mode}` as const)}>
      <span className="live-dot" aria-hidden="true" />
      {t(`batch.live.${mode}` as const)}
    </span>
  );
}

function Summary({ b }: { b: Batch }) {
  const { t, formatDateTime } = useI18n();
  const l = useLabels();
  const p = b.progress;
  const pct = p.total ? Math.round((p.done / p.total) * 100) : 0;
  const active = ACTIVE.has(b.status);
  const reasons = Object.entries(b.report?.reasons ?? {}).filter(([, n]) => n > 0);
  const prm = b.params ?? {};
  return (
    <section className="card batch-summary" aria-label={t('batch.progressLabel')}>
      <div className="progress-line">
        <strong data-testid="progress-text">{t('batch.progress', { done: p.done, total: p.total })}</strong>
        <span className="muted small">{t('batch.progressDetail', { succeeded: p.succeeded, failed: p.failed })}</span>
      </div>
      <div
        className={`progress${p.failed ? ' has-failed' : ''}`}
        role="progressbar"
        aria-label={t('batch.progressLabel')}
        aria-valuemin={0}
        aria-valuemax={p.total}
        aria-valuenow={p.done}
        aria-valuetext={t('batch.progress', { done: p.done, total: p.total })}
      >
        <span className="progress-ok" style={{ width: `${p.total ? (p.succeeded / p.total) * 100 : 0}%` }} />
        <span className="progress-bad" style={{ width: `${p.total ? (p.failed / p.total) * 100 : 0}%` }} />
      </div>
      <span className="sr-only" aria-live="polite">
        {pct}%
      </span>
      {active && (b.queue_position !== undefined || b.eta_seconds !== undefined) && (
        <p className="muted small queue-line">
          {b.queue_position ? t('batch.queue', { count: b.queue_position }) : null}
          {b.queue_position && b.eta_seconds !== undefined ? ' · ' : null}
          {b.eta_seconds !== undefined ? t('batch.eta', { duration: l.duration(b.eta_seconds) }) : null}
        </p>
      )}
      {b.message && <Notice kind={b.status === 'failed' || b.status === 'partially_failed' ? 'warn' : 'info'}>{b.message}</Notice>}
      <dl className="facts batch-facts">
        <dt>{t('batch.cost')}</dt>
        <dd data-testid="batch-cost">{formatMoney(b.cost)}</dd>
        <dt>{t('batch.estimate')}</dt>
        <dd>{formatMoney(b.estimate?.total)}</dd>
        {b.budget && (
          <>
            <dt>{t('batch.cap')}</dt>
            <dd>{formatMoney(b.budget)}</dd>
          </>
        )}
        <dt>{t('history.col.mode')}</dt>
        <dd>
          {l.mode(b.mode)}
          {prm.aspect ? (
            <span className="muted small">
              {' · '}
              {t('batch.settings', { aspect: prm.aspect, resolution: prm.resolution ?? '', enhance: t(`output.enhance.${prm.enhance ?? 'balanced'}` as never) })}
            </span>
          ) : null}
        </dd>
        <dt>{t('batch.created')}</dt>
        <dd>{formatDateTime(b.created_at)}</dd>
        {b.finished_at && (
          <>
            <dt>{t('batch.finished')}</dt>
            <dd>{formatDateTime(b.finished_at)}</dd>
          </>
        )}
        {prm.rerun_of && (
          <>
            <dt>{t('batch.rerun')}</dt>
            <dd>
              <Link to={`/batches/${encodeURIComponent(prm.rerun_of)}`}>{t('batch.rerunOf', { id: shortId(prm.rerun_of) })}</Link>
            </dd>
          </>
        )}
      </dl>
      {reasons.length > 0 && (
        <div className="reasons">
          <span className="label">{t('batch.reasons')}</span>
          <ul>
            {reasons.map(([r, n]) => (
              <li key={r}>{t('batch.reasonCount', { reason: l.reason(r), count: n })}</li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}

function Actions({ b, apply }: { b: Batch; apply: (b: Batch) => void }) {
  const { t } = useI18n();
  const { busy, error, run } = useBusyAction();
  const [confirmCancel, setConfirmCancel] = useState(false);
  const [link, setLink] = useState<SignedLink | null>(null);
  const terminal = isTerminalBatch(b.status);
  const retryable = b.groups.reduce((n, g) => n + g.images.filter((im) => isRetryableImage(im.status)).length, 0);

  const control = (name: 'cancel' | 'pause' | 'resume' | 'retry') =>
    run(async () => {
      apply(await api.batchAction(b.id, name));
      setConfirmCancel(false);
    });

  const share = () =>
    run(async () => {
      const l = await api.batchLink(b.id, { expires_in: '7d' });
      const full = { ...l, url: absolute(l.url) };
      setLink(full);
      await copyText(full.url);
    });

  return (
    <section className="card batch-actions" aria-label={t('batch.actions')}>
      <div className="row wrap">
        {b.progress.succeeded > 0 ? (
          <a className="btn btn-primary" href={b.download} download data-testid="download-batch">
            {t('batch.download')}
          </a>
        ) : (
          <button type="button" className="btn btn-primary" disabled>
            {t('batch.download')}
          </button>
        )}
        <button type="button" className="btn" disabled={busy || b.progress.succeeded === 0} onClick={() => void share()}>
          {t('batch.share')}
        </button>
        {PAUSABLE.has(b.status) && (
          <button type="button" className="btn" disabled={busy} onClick={() => void control('pause')}>
            {t('batch.pause')}
          </button>
        )}
        {b.status === 'paused' && (
          <button type="button" className="btn" disabled={busy} onClick={() => void control('resume')}>
            {t('batch.resume')}
          </button>
        )}
        {terminal && retryable > 0 && (
          <button type="button" className="btn" disabled={busy} onClick={() => void control('retry')}>
            {t('batch.retryFailed', { count: retryable })}
          </button>
        )}
        <button
          type="button"
          className="btn"
          title={t('batch.rerunHint')}
          disabled={busy}
          onClick={() =>
            void run(async () => {
              const nb = await api.rerunBatch(b.id);
              navigate('/batches/' + encodeURIComponent(nb.id));
            })
          }
        >
          {t('batch.rerun')}
        </button>
        {ACTIVE.has(b.status) &&
          (confirmCancel ? (
            <>
              <button type="button" className="btn btn-danger" disabled={busy} onClick={() => void control('cancel')}>
                {t('batch.cancelConfirm')}
              </button>
              <button type="button" className="btn btn-ghost" onClick={() => setConfirmCancel(false)}>
                {t('common.close')}
              </button>
            </>
          ) : (
            <button type="button" className="btn btn-danger-outline" disabled={busy} onClick={() => setConfirmCancel(true)}>
              {t('batch.cancel')}
            </button>
          ))}
      </div>
      {link && <ShareLink link={link} />}
      <ProblemPanel error={error} />
    </section>
  );
}

function ShareLink({ link }: { link: SignedLink }) {
  const { t, formatDateTime } = useI18n();
  return (
    <div className="share-link" data-testid="share-link">
      <label className="label" htmlFor={`share-${link.url.length}`}>
        {t('batch.shareLink', { at: formatDateTime(link.expires_at) })}
      </label>
      <div className="row">
        <input id={`share-${link.url.length}`} className="input mono" readOnly value={link.url} onFocus={(e) => e.currentTarget.select()} />
        <CopyButton text={link.url} />
      </div>
    </div>
  );
}

function GroupCard({
  b,
  g,
  apply,
  onOpen,
  picking,
}: {
  b: Batch;
  g: BatchGroup;
  apply: (b: Batch) => void;
  onOpen: (imageId: string) => void;
  picking: PickingProps;
}) {
  const { t } = useI18n();
  const l = useLabels();
  const { busy, error, run: act } = useBusyAction();
  const [link, setLink] = useState<SignedLink | null>(null);
  const n = g.index + 1;
  const succeeded = g.images.filter((im) => im.status === 'succeeded').length;
  const retryable = g.images.filter((im) => isRetryableImage(im.status)).length;
  const titleId = `group-${g.id}-title`;
  const shown = picking.onlyStarred ? g.images.filter((im) => im.starred) : g.images;

  return (
    <article className="card group-card" aria-labelledby={titleId} data-testid="group-card" data-group-status={g.status}>
      <header className="group-head">
        <h2 id={titleId}>
          <span className="group-n">{t('batch.group', { n })}</span>
          <span className="group-place">{l.shortPlace(g.scene)}</span>
        </h2>
        <span className="group-progress" data-testid="group-progress">
          <span className="mono" aria-label={t('pick.groupProgress', { done: succeeded, total: g.images.length })}>
            {succeeded}/{g.images.length}
          </span>
          <StatusPill status={g.status} kind="group" />
        </span>
      </header>
      <p className="group-scene small">
        <span className="muted">{g.scene.province} · {g.scene.prefecture}</span>
        <br />
        {l.month(g.combination.month)} · {l.season(g.scene.season)} · {l.road(g.scene.road)}
      </p>
      {g.scene.elements?.length ? (
        <ul className="tags group-elements" aria-label={t('plan.col.elements')}>
          {g.scene.elements.map((e) => (
            <li key={e.id} className="tag">
              {l.element(e)}
            </li>
          ))}
        </ul>
      ) : null}
      <ul className="slots" aria-label={t('batch.groupImages', { n })}>
        {shown.map((im) => (
          <Slot key={im.id} im={im} g={g} onOpen={onOpen} picking={picking} />
        ))}
      </ul>
      {picking.onlyStarred && shown.length === 0 ? <p className="muted small">{t('pick.noneStarred')}</p> : null}
      <div className="row wrap group-actions">
        {succeeded > 0 ? (
          <a className="btn btn-small" href={g.download} download data-testid="download-group">
            {t('batch.groupDownload')}
          </a>
        ) : null}
        {succeeded > 0 && (
          <button
            type="button"
            className="btn btn-small"
            disabled={busy}
            onClick={() =>
              void act(async () => {
                const lk = await api.batchLink(b.id, { expires_in: '7d', group_id: g.id });
                const full = { ...lk, url: absolute(lk.url) };
                setLink(full);
                await copyText(full.url);
              })
            }
          >
            {t('batch.groupShare')}
          </button>
        )}
        {isTerminalBatch(b.status) && retryable > 0 && (
          <button type="button" className="btn btn-small" disabled={busy} onClick={() => void act(async () => apply(await api.retryGroup(b.id, g.id)))}>
            {t('batch.groupRetry')}
          </button>
        )}
      </div>
      {link && <ShareLink link={link} />}
      <ErrorNote error={error} />
      {succeeded > 0 && <PostKit b={b} g={g} onSaved={picking.changed} />}
    </article>
  );
}

function Slot({ im, g, onOpen, picking }: { im: BatchImage; g: BatchGroup; onOpen: (id: string) => void; picking: PickingProps }) {
  const { t } = useI18n();
  const l = useLabels();
  const variant = l.variant(im.variant);
  const label = t('batch.imageAlt', { group: g.index + 1, variant, place: l.shortPlace(g.scene) });
  const ok = im.status === 'succeeded' && (im.urls?.card || im.urls?.thumb);
  const ratio = im.width && im.height ? `${im.width} / ${im.height}` : undefined;
  return (
    <li className={`slot slot-${im.status}${im.starred ? ' is-starred' : ''}`} data-testid="slot" data-status={im.status} data-image-id={im.id}>
      {ok ? (
        <button type="button" className="slot-img" style={{ aspectRatio: ratio }} onClick={() => onOpen(im.id)} aria-label={t('batch.open', { label })}>
          <CardImage im={im} alt={label} sizes="(max-width: 560px) 45vw, 200px" />
          {im.starred ? (
            <span className="slot-star" aria-hidden="true">
              ★
            </span>
          ) : null}
        </button>
      ) : (
        <div className="slot-empty" style={{ aspectRatio: ratio }} role="img" aria-label={`${variant}: ${l.imageStatus(im.status)}`}>
          {im.status === 'running' || im.status === 'queued' ? <span className={`spinner${im.status === 'queued' ? ' is-idle' : ''}`} aria-hidden="true" /> : null}
          <span className="slot-status">{l.imageStatus(im.status)}</span>
          {im.reason && im.status !== 'succeeded' && <span className="slot-reason">{l.reason(im.reason)}</span>}
        </div>
      )}
      <span className="slot-caption small">
        {ok ? (
          <label className="slot-pick">
            <input type="checkbox" checked={picking.selected.has(im.id)} onChange={() => picking.toggle(im.id)} data-testid="select" />
            <span className="sr-only">{t('pick.select', { label })}</span>
          </label>
        ) : null}
        {variant}
        {im.versions && im.versions > 1 ? <span className="muted"> · v{im.versions}</span> : null}
        {im.qc_tries ? <span className="muted"> · {t('batch.qcTries', { count: im.qc_tries })}</span> : null}
      </span>
    </li>
  );
}

/** One variant across every group, side by side: the same light and weather in each place. */
function CompareView({ b, picking, onOpen }: { b: Batch; picking: PickingProps; onOpen: (id: string) => void }) {
  const { t } = useI18n();
  const l = useLabels();
  const [idx, setIdx] = useState(0);
  const count = Math.max(0, ...b.groups.map((g) => g.images.length));
  const sample = b.groups[0]?.images[idx];
  return (
    <section className="card compare" aria-label={t('pick.viewCompare')} data-testid="compare">
      <div className="segmented" role="group" aria-label={t('pick.compareVariant')}>
        {Array.from({ length: count }, (_, i) => {
          const v = b.groups[0]?.images[i]?.variant;
          return (
            <button key={i} type="button" className={`btn btn-small${i === idx ? ' is-on' : ''}`} aria-pressed={i === idx} onClick={() => setIdx(i)}>
              {v ? l.variant(v) : i + 1}
            </button>
          );
        })}
      </div>
      <p className="muted small">{sample ? t('pick.compareHint', { variant: l.variant(sample.variant) }) : null}</p>
      <ul className="compare-row">
        {b.groups.map((g) => {
          const im = g.images[idx];
          if (!im || (picking.onlyStarred && !im.starred)) return null;
          return (
            <li key={g.id} className="compare-cell" data-testid="compare-cell">
              <ul className="compare-one">
                <Slot im={im} g={g} onOpen={onOpen} picking={picking} />
              </ul>
              <span className="small">
                {t('batch.group', { n: g.index + 1 })} · {l.shortPlace(g.scene)} · {l.month(g.combination.month)}
              </span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function Lightbox({
  b,
  items,
  current,
  onMove,
  onClose,
  apply,
  changed,
}: {
  b: Batch;
  items: { im: BatchImage; g: BatchGroup }[];
  current: string;
  onMove: (id: string) => void;
  onClose: () => void;
  apply: (b: Batch) => void;
  changed: () => void;
}) {
  const { t } = useI18n();
  const l = useLabels();
  const closeRef = useRef<HTMLButtonElement>(null);
  const boxRef = useRef<HTMLDivElement>(null);
  const opener = useRef<Element | null>(null);
  const i = items.findIndex((x) => x.im.id === current);
  // While a regenerated image is redrawn it leaves the viewable list; keep showing it.
  const all = b.groups.flatMap((g) => g.images.map((im) => ({ im, g })));
  const entry = i >= 0 ? items[i] : all.find((x) => x.im.id === current);

  useEffect(() => {
    opener.current = document.activeElement;
    closeRef.current?.focus();
    return () => {
      if (opener.current instanceof HTMLElement) opener.current.focus();
    };
  }, []);
  // Escape closes even when the focus has fallen out of the dialog (a button
  // that re-rendered); focus that leaves it is brought back.
  useEffect(() => {
    const onDoc = (e: globalThis.KeyboardEvent) => {
      if (e.key === 'Escape') onClose();
    };
    const onFocusIn = (e: FocusEvent) => {
      if (boxRef.current && e.target instanceof Node && !boxRef.current.contains(e.target)) closeRef.current?.focus();
    };
    document.addEventListener('keydown', onDoc);
    document.addEventListener('focusin', onFocusIn);
    return () => {
      document.removeEventListener('keydown', onDoc);
      document.removeEventListener('focusin', onFocusIn);
    };
  }, [onClose]);

  if (!entry) return null;
  const { im, g } = entry;
  const label = t('batch.imageAlt', { group: g.index + 1, variant: l.variant(im.variant), place: l.shortPlace(g.scene) });
  const move = (d: number) => items.length > 0 && onMove(items[((i < 0 ? 0 : i) + d + items.length) % items.length].im.id);
  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Escape') onClose();
    else if (e.key === 'ArrowRight' && !(e.target instanceof HTMLInputElement) && !(e.target instanceof HTMLTextAreaElement)) move(1);
    else if (e.key === 'ArrowLeft' && !(e.target instanceof HTMLInputElement) && !(e.target instanceof HTMLTextAreaElement)) move(-1);
    else if (e.key === 'Tab' && boxRef.current) {
      // Focus trap: Tab and Shift+Tab cycle inside the dialog.
      const f = Array.from(boxRef.current.querySelectorAll<HTMLElement>('a[href], button:not([disabled]), input, textarea, select, summary')).filter(
        (el) => el.offsetParent !== null,
      );
      if (f.length === 0) return;
      const first = f[0];
      const last = f[f.length - 1];
      if (e.shiftKey && document.activeElement === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      }
    }
  };
  const busy = !isTerminalBatch(b.status);
  const src = im.status === 'succeeded' ? im.urls.preview : undefined;

  return (
    <div
      ref={boxRef}
      className="lightbox"
      role="dialog"
      aria-modal="true"
      aria-label={t('batch.lightbox')}
      data-testid="lightbox"
      onKeyDown={onKey}
      onClick={(e) => e.target === e.currentTarget && onClose()}
    >
      <div className="lightbox-body">
        <figure className="lightbox-figure">
          {src ? (
            <img src={src} alt={label} width={im.width} height={im.height} />
          ) : (
            <div className="slot-empty lightbox-wait" role="img" aria-label={l.imageStatus(im.status)}>
              <span className="spinner" aria-hidden="true" />
              {l.imageStatus(im.status)}
            </div>
          )}
          <figcaption>
            <span data-testid="lightbox-position">{t('pick.position', { n: (i < 0 ? 0 : i) + 1, total: items.length })}</span> · <span>{label}</span>
          </figcaption>
        </figure>
        <aside className="lightbox-side">
          <div className="row wrap">
            <button type="button" className="btn btn-small" onClick={() => move(-1)} disabled={items.length < 2}>
              ← {t('batch.prev')}
            </button>
            <button type="button" className="btn btn-small" onClick={() => move(1)} disabled={items.length < 2}>
              {t('batch.next')} →
            </button>
            <button ref={closeRef} type="button" className="btn btn-small" onClick={onClose}>
              {t('common.close')}
            </button>
          </div>
          <dl className="facts lightbox-facts">
            <dt>{t('pick.place')}</dt>
            <dd>
              {g.scene.province} {g.scene.prefecture} {g.scene.county}
            </dd>
            <dt>{t('pick.when')}</dt>
            <dd>
              {l.month(g.combination.month)} · {l.season(g.scene.season)} · {l.variant(im.variant)}
            </dd>
            <dt>{t('plan.col.road')}</dt>
            <dd>{l.road(g.scene.road)}</dd>
            {g.scene.elements?.length ? (
              <>
                <dt>{t('plan.col.elements')}</dt>
                <dd>{g.scene.elements.map((e) => l.element(e)).join('、')}</dd>
              </>
            ) : null}
            {im.file_name ? (
              <>
                <dt>{t('pick.file')}</dt>
                <dd className="mono small">{im.file_name}</dd>
              </>
            ) : null}
          </dl>
          <div className="row wrap">
            {im.status === 'succeeded' && im.urls.download ? (
              <a className="btn btn-small btn-primary" href={im.urls.download} download data-testid="download-one">
                {t('pick.downloadOne')}
              </a>
            ) : null}
            {im.status === 'succeeded' && im.urls.full ? (
              <a className="btn btn-small" href={im.urls.full} target="_blank" rel="noopener">
                {t('batch.fullSize')}
              </a>
            ) : null}
            <StarButton im={im} onChanged={changed} />
          </div>
          {im.prompt ? (
            <details className="prompt">
              <summary>{t('pick.prompt')}</summary>
              <p className="small mono prompt-text">{im.prompt}</p>
            </details>
          ) : null}
          <Regenerate im={im} disabled={busy} onStarted={apply} />
          <Versions im={im} onSelected={apply} />
        </aside>
      </div>
    </div>
  );
}

function ActivityLog({ log, seq, b, load }: { log: LiveEvent[]; seq: number; b: Batch; load: () => Promise<void> }) {
  const { t, formatDateTime } = useI18n();
  const l = useLabels();
  const [open, setOpen] = useState(false);
  // While open, the stored events catch up with the view (the socket, when
  // live, delivers them anyway; then this finds nothing new).
  useEffect(() => {
    if (open) void load();
  }, [open, seq, load]);
  if (seq === 0 && log.length === 0) return null;
  const where = new Map<string, string>();
  for (const g of b.groups) {
    for (const im of g.images) where.set(im.id, `${t('batch.group', { n: g.index + 1 })} · ${l.variant(im.variant)}`);
    where.set(g.id, t('batch.group', { n: g.index + 1 }));
  }
  const describe = (e: LiveEvent) => {
    const d = e.data;
    const target = (typeof d.image_id === 'string' && where.get(d.image_id)) || (typeof d.group_id === 'string' && where.get(d.group_id)) || '';
    const status = typeof d.status === 'string' ? d.status : '';
    const reason = typeof d.reason === 'string' && d.reason ? ` (${l.reason(d.reason)})` : '';
    const sub = e.kind.split(/[._]/)[1] ?? '';
    const num = (k: string) => (typeof d[k] === 'number' ? (d[k] as number) : 0);
    // Raw event names (progress, batch.progress, image.updated…) are never shown: each kind reads as words.
    let what: string;
    if (e.kind === 'progress' || e.kind === 'batch.progress') what = t('batch.log.progress', { done: num('done'), total: num('total') });
    else if (e.kind === 'queue_position' || e.kind === 'batch.queue') what = t('batch.log.queue', { count: num('queue_position') });
    else if (e.kind === 'group.note') what = t('batch.log.note');
    else if (d.regenerate === true) what = t('batch.log.regenerate');
    else if (e.kind.startsWith('image') && (e.kind === 'image.updated' || sub === 'updated' || sub === 'status') && !status)
      what = typeof d.prompt_source === 'string' ? t('batch.log.prompt') : typeof d.version === 'string' ? t('batch.log.version') : t('batch.log.updated');
    else if (e.kind.startsWith('image')) what = l.imageStatus(status || sub);
    else if (e.kind.startsWith('group')) what = l.groupStatus(status || sub);
    else if (status) what = l.batchStatus(status);
    else if (e.kind === 'batch.created') what = t('batch.log.created');
    else what = t('batch.log.updated');
    return `${target ? target + ': ' : ''}${what}${reason}`;
  };
  const recent = log.slice(-100).reverse();
  return (
    <details className="card activity" onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>{t('batch.activity', { count: Math.max(seq, log.length) })}</summary>
      <ol className="activity-list">
        {recent.map((e) => (
          <li key={e.seq}>
            <span className="mono muted small">#{e.seq}</span> <span className="muted small">{e.at ? formatDateTime(e.at) : ''}</span> {describe(e)}
          </li>
        ))}
      </ol>
    </details>
  );
}
