import { useCallback, useEffect, useState } from 'react';
import { api, type BatchSummary } from '../api';
import { historyQuery, sumByDay } from '../batch/history';
import { StatusPill, useLabels } from '../batch/ui';
import { ErrorNote, PageHeader, Spinner } from '../components/common';
import { formatMoney } from '../format';
import { useAsync, useDebounced } from '../hooks';
import { useI18n } from '../i18n/context';
import { Link, navigate, useLocation } from '../router';

export const BATCH_STATUSES = ['queued', 'running', 'paused', 'waiting_provider', 'succeeded', 'partially_failed', 'failed', 'cancelled'] as const;
const PAGE = 20;

export function HistoryPage() {
  const { t } = useI18n();
  const { search } = useLocation();
  const status = search.get('status') ?? '';
  const mode = search.get('mode') ?? '';
  const [q, setQ] = useState(search.get('q') ?? '');
  const dq = useDebounced(q.trim(), 300);

  const setFilter = (patch: Partial<{ status: string; mode: string; q: string }>) =>
    navigate('/history' + historyQuery({ status, mode, q: dq, ...patch }), { replace: true });

  useEffect(() => {
    if (dq !== (search.get('q') ?? '')) setFilter({ q: dq });
  }, [dq]);

  return (
    <section>
      <PageHeader title={t('history.title')} />
      <UsageCard />
      <section className="card" aria-labelledby="batches-title">
        <h2 id="batches-title">{t('history.batches')}</h2>
        <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
          <div className="field">
            <label className="label" htmlFor="history-status">
              {t('history.filter.status')}
            </label>
            <select id="history-status" className="input" value={status} onChange={(e) => setFilter({ status: e.target.value })}>
              <option value="">{t('common.all')}</option>
              {BATCH_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {t(`batch.status.${s}` as const)}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label className="label" htmlFor="history-mode">
              {t('history.filter.mode')}
            </label>
            <select id="history-mode" className="input" value={mode} onChange={(e) => setFilter({ mode: e.target.value })}>
              <option value="">{t('common.all')}</option>
              <option value="smart">{t('new.mode.smart')}</option>
              <option value="manual">{t('new.mode.manual')}</option>
            </select>
          </div>
          <div className="field field-grow">
            <label className="label" htmlFor="history-q">
              {t('history.filter.q')}
            </label>
            <input
              id="history-q"
              className="input"
              type="search"
              value={q}
              placeholder={t('history.filter.qPlaceholder')}
              onChange={(e) => setQ(e.target.value)}
            />
          </div>
        </form>
        <BatchList key={`${status}|${mode}|${dq}`} status={status} mode={mode} q={dq} />
      </section>
    </section>
  );
}

const TERMINAL = new Set(['succeeded', 'partially_failed', 'failed', 'cancelled']);

function BatchList({ status, mode, q }: { status: string; mode: string; q: string }) {
  const { t, formatDateTime } = useI18n();
  const l = useLabels();
  const [items, setItems] = useState<BatchSummary[]>([]);
  const [cursor, setCursor] = useState('');
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [showArchived, setShowArchived] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState<string | null>(null);

  const act = async (fn: () => Promise<void>) => {
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(e);
    }
  };

  const load = useCallback(
    async (after: string) => {
      setLoading(true);
      setError(null);
      try {
        const p = await api.listBatches({ status, mode, q, cursor: after || undefined, limit: PAGE, archived: showArchived ? 'all' : 'false' });
        setItems((prev) => (after ? [...prev, ...(p.items ?? [])] : p.items ?? []));
        setCursor(p.next_cursor ?? '');
      } catch (e) {
        setError(e);
      } finally {
        setLoading(false);
      }
    },
    [status, mode, q, showArchived],
  );

  useEffect(() => {
    void load('');
  }, [load]);

  const filtered = !!(status || mode || q);
  return (
    <>
      <label className="check history-archived">
        <input type="checkbox" checked={showArchived} onChange={(e) => setShowArchived(e.target.checked)} /> {t('history.showArchived')}
      </label>
      {error ? <ErrorNote error={error} onRetry={() => void load(cursor)} /> : null}
      {!loading && !error && items.length === 0 ? (
        <div className="empty-state">
          <p>{filtered ? t('history.emptyFiltered') : t('history.empty')}</p>
          {!filtered && (
            <Link to="/new" className="btn btn-primary">
              {t('nav.new')}
            </Link>
          )}
        </div>
      ) : (
        <ul className="batch-list" data-testid="batch-list">
          {items.map((b) => {
            const scenes = b.scenes ?? [];
            const shown = scenes.slice(0, 3);
            return (
              <li key={b.id} className="batch-row">
                <Link to={`/batches/${encodeURIComponent(b.id)}`} className="batch-row-link">
                  <span className="batch-row-main">
                    <StatusPill status={b.status} />
                    {b.name ? <strong className="batch-row-name">{b.name}</strong> : null}
                    {b.archived ? <span className="tag">{t('history.archivedTag')}</span> : null}
                    <span className="batch-row-time">{formatDateTime(b.created_at)}</span>
                    <span className="muted small">
                      {l.mode(b.mode)} · {t('history.groups', { count: b.groups })} · {formatMoney(b.estimate)}
                    </span>
                  </span>
                  <span className="batch-row-scenes small">
                    {shown.map((s) => `${l.shortPlace(s)} · ${l.season(s.season)} · ${l.road(s.road)}`).join(' ／ ')}
                    {scenes.length > shown.length && <span className="muted"> {t('history.moreScenes', { count: scenes.length })}</span>}
                  </span>
                </Link>
                <span className="row batch-row-actions">
                  <button
                    type="button"
                    className="btn btn-small btn-ghost"
                    data-testid="archive-batch"
                    onClick={() =>
                      void act(async () => {
                        await api.patchBatch(b.id, { archived: !b.archived });
                        await load('');
                      })
                    }
                  >
                    {b.archived ? t('history.unarchive') : t('history.archive')}
                  </button>
                  {TERMINAL.has(b.status) &&
                    (confirmDelete === b.id ? (
                      <button
                        type="button"
                        className="btn btn-small btn-danger"
                        onClick={() =>
                          void act(async () => {
                            await api.deleteBatch(b.id);
                            setConfirmDelete(null);
                            await load('');
                          })
                        }
                      >
                        {t('history.deleteConfirm')}
                      </button>
                    ) : (
                      <button type="button" className="btn btn-small btn-ghost" onClick={() => setConfirmDelete(b.id)}>
                        {t('history.delete')}
                      </button>
                    ))}
                </span>
              </li>
            );
          })}
        </ul>
      )}
      {loading && <Spinner />}
      {cursor && !loading && (
        <button type="button" className="btn" onClick={() => void load(cursor)}>
          {t('common.loadMore')}
        </button>
      )}
    </>
  );
}

function UsageCard() {
  const { t } = useI18n();
  const usage = useAsync(() => api.usage(), []);
  const u = usage.data;
  return (
    <section className="card" aria-labelledby="usage-title" data-testid="usage">
      <h2 id="usage-title">
        {t('usage.title')}
        <button type="button" className="link-btn" onClick={usage.reload}>
          {t('common.refresh')}
        </button>
      </h2>
      {usage.error ? <ErrorNote error={usage.error} onRetry={usage.reload} /> : null}
      {!u && usage.loading && <Spinner />}
      {u && (
        <>
          <dl className="stats">
            <div>
              <dt>{t('usage.today')}</dt>
              <dd>{formatMoney(u.spent_today)}</dd>
            </div>
            <div>
              <dt>{t('usage.remainingToday')}</dt>
              <dd>{u.remaining_today ? formatMoney(u.remaining_today) : <span className="muted">{t('usage.noBudget')}</span>}</dd>
            </div>
            <div>
              <dt>{t('usage.month')}</dt>
              <dd>{formatMoney(u.spent_this_month)}</dd>
            </div>
            <div>
              <dt>{t('usage.remainingMonth')}</dt>
              <dd>{u.remaining_this_month ? formatMoney(u.remaining_this_month) : <span className="muted">{t('usage.noBudget')}</span>}</dd>
            </div>
          </dl>
          {u.items.length === 0 ? (
            <p className="muted small">{t('usage.empty')}</p>
          ) : (
            <details className="usage-days">
              <summary className="small">{t('usage.byDay')}</summary>
              <div className="table-wrap" tabIndex={0}>
                <table className="table table-compact">
                  <thead>
                    <tr>
                      <th scope="col">{t('usage.col.day')}</th>
                      <th scope="col">{t('usage.col.provider')}</th>
                      <th scope="col">{t('usage.col.images')}</th>
                      <th scope="col">{t('usage.col.cost')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {sumByDay(u.items).map((d) => (
                      <tr key={d.day}>
                        <td className="nowrap">{d.day}</td>
                        <td>{d.providers.join(', ')}</td>
                        <td>{d.images}</td>
                        <td className="nowrap">{formatMoney({ amount: d.amount.toFixed(4), currency: d.currency })}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </details>
          )}
        </>
      )}
    </section>
  );
}
