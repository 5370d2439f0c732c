import { useCallback, useEffect, useState } from 'react';
import { request, type ProbeList, type ProbeResult, type Providers, type ProviderStatus, type QueueState } from '../api';
import { ErrorNote, Notice, Spinner } from '../components/common';
import { useBusyAction } from '../hooks';
import { useI18n } from '../i18n/context';

/** Image providers (status, breaker, reset, probe) and the generation queue (pause, resume). */
export function ProvidersPanel() {
  const { t, formatDateTime } = useI18n();
  const [items, setItems] = useState<ProviderStatus[] | null>(null);
  const [simulated, setSimulated] = useState(false);
  const [probe, setProbe] = useState<ProbeResult[] | null>(null);
  const [queue, setQueue] = useState<boolean | null>(null);
  const { busy, error, setError, run } = useBusyAction();

  const load = useCallback(async () => {
    try {
      const r = await request<Providers>('GET', '/api/v1/admin/providers');
      setItems(r.items);
      setSimulated(r.simulated);
    } catch (e) {
      setError(e);
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  return (
    <div className="admin-providers" data-testid="admin-providers">
      <section className="card">
        <h2>{t('providers.title')}</h2>
        {simulated && <Notice kind="info">{t('banner.simulated')}</Notice>}
        {items === null && !error ? <Spinner /> : null}
        {items && (
          <div className="table-wrap" tabIndex={0}>
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">{t('providers.name')}</th>
                  <th scope="col">{t('providers.state')}</th>
                  <th scope="col">{t('providers.breaker')}</th>
                  <th scope="col">{t('providers.lastError')}</th>
                  <th scope="col">{t('providers.lastSuccess')}</th>
                  <th scope="col">
                    <span className="sr-only">{t('providers.actions')}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((p) => (
                  <tr key={p.name} data-testid="provider-row">
                    <td>
                      <strong>{p.name}</strong>
                      <br />
                      <span className="muted small mono">{p.model}</span>
                    </td>
                    <td>
                      <span className={`pill pill-${p.state === 'ok' ? 'ok' : 'warn'}`}>{p.state}</span>
                      {p.quota_until ? <div className="small muted">{t('providers.until', { at: formatDateTime(p.quota_until) })}</div> : null}
                    </td>
                    <td className="mono small">{p.breaker}</td>
                    <td className="small">
                      {p.last_error ?? '—'}
                      {p.last_error_at ? <div className="muted">{formatDateTime(p.last_error_at)}</div> : null}
                    </td>
                    <td className="small">{p.last_success_at ? formatDateTime(p.last_success_at) : '—'}</td>
                    <td>
                      <button
                        type="button"
                        className="btn btn-small"
                        disabled={busy}
                        onClick={() =>
                          void run(async () => {
                            const r = await request<Providers>('POST', `/api/v1/admin/providers/${encodeURIComponent(p.name)}/reset`);
                            setItems(r.items);
                          })
                        }
                      >
                        {t('providers.reset')}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <div className="row wrap">
          <button
            type="button"
            className="btn"
            disabled={busy}
            data-testid="probe"
            onClick={() =>
              void run(async () => {
                const r = await request<ProbeList>('POST', '/api/v1/admin/providers/probe');
                setProbe(r.items);
                await load();
              })
            }
          >
            {t('providers.probe')}
          </button>
          <button type="button" className="btn btn-ghost" disabled={busy} onClick={() => void load()}>
            {t('providers.refresh')}
          </button>
        </div>
        {probe && (
          <ul className="probe-list" data-testid="probe-results">
            {probe.map((p) => (
              <li key={p.name}>
                <strong>{p.name}</strong>: {p.ok ? t('providers.probeOk', { ms: Math.round(p.latency_ns / 1e6) }) : t('providers.probeFail')}
                {p.detail ? <span className="muted small"> · {p.detail}</span> : null}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section className="card">
        <h2>{t('queue.title')}</h2>
        <p className="muted small">{t('queue.hint')}</p>
        <div className="row wrap">
          <button
            type="button"
            className="btn btn-danger-outline"
            disabled={busy}
            onClick={() =>
              void run(async () => {
                const r = await request<QueueState>('POST', '/api/v1/admin/queue/pause');
                setQueue(r.paused);
              })
            }
          >
            {t('queue.pause')}
          </button>
          <button
            type="button"
            className="btn"
            disabled={busy}
            onClick={() =>
              void run(async () => {
                const r = await request<QueueState>('POST', '/api/v1/admin/queue/resume');
                setQueue(r.paused);
              })
            }
          >
            {t('queue.resume')}
          </button>
          <a className="btn btn-ghost" href="/riverui/" target="_blank" rel="noopener">
            {t('queue.riverui')}
          </a>
        </div>
        {queue !== null && (
          <p role="status" className="small">
            {queue ? t('queue.paused') : t('queue.resumed')}
          </p>
        )}
      </section>
      <ErrorNote error={error} />
    </div>
  );
}
