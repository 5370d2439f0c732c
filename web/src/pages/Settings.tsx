import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, isApiError, type Webhook, type WebhookDelivery, type WebhookEvent } from '../api';
import { CopyButton, ErrorNote, Notice, PageHeader, Spinner } from '../components/common';
import { PresetList, loadAllPresets } from '../components/PresetList';
import { useAsync } from '../hooks';
import { hasMessage, type MessageKey } from '../i18n';
import { useI18n } from '../i18n/context';
import { Link } from '../router';
import {
  WEBHOOK_EVENTS,
  WEBHOOK_URL_MAX,
  appendPage,
  checkWebhookUrl,
  isSettled,
  mergeFirstPage,
  putOnTop,
  sameEvents,
  toggleEvent,
  type DeliveryList,
  type UrlProblem,
} from '../settings/webhook';

const MAX_PRESETS = 100;

export function SettingsPage() {
  const { t } = useI18n();
  return (
    <section>
      <PageHeader title={t('settings.title')}>{t('settings.intro')}</PageHeader>
      <div className="settings-stack">
        <WebhookSettings />
        <PresetsCard />
      </div>
    </section>
  );
}

type Busy = 'save' | 'rotate' | 'test' | 'delete' | null;
type Flash = { kind: 'success' | 'info' | 'warn'; text: string } | null;

function withoutSecret(w: Webhook): Webhook {
  const { secret: _s, ...rest } = w;
  return rest;
}

function WebhookSettings() {
  const { t, problem, formatDateTime } = useI18n();
  // undefined: loading; null: none configured.
  const [hook, setHook] = useState<Webhook | null | undefined>(undefined);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<WebhookEvent[]>(['batch.done']);
  const [secret, setSecret] = useState<string | null>(null);
  const [busy, setBusy] = useState<Busy>(null);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [local, setLocal] = useState<UrlProblem | 'noEvents' | null>(null);
  const [flash, setFlash] = useState<Flash>(null);
  const [confirm, setConfirm] = useState<'rotate' | 'delete' | null>(null);
  const [pinged, setPinged] = useState<WebhookDelivery | null>(null);

  useEffect(() => {
    let live = true;
    setLoadError(null);
    api.webhook().then(
      (w) => {
        if (!live) return;
        setHook(withoutSecret(w));
        setUrl(w.url);
        setEvents(w.events);
      },
      (e: unknown) => {
        if (!live) return;
        if (isApiError(e) && e.status === 404) setHook(null);
        else setLoadError(e);
      },
    );
    return () => {
      live = false;
    };
  }, [tick]);

  const reset = () => {
    setSaveError(null);
    setActionError(null);
    setFlash(null);
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    reset();
    const bad = checkWebhookUrl(url);
    if (bad) return setLocal(bad);
    if (events.length === 0) return setLocal('noEvents');
    setLocal(null);
    setBusy('save');
    try {
      const created = !hook;
      const w = await api.putWebhook({ url: url.trim(), events });
      setHook(withoutSecret(w));
      setUrl(w.url);
      setEvents(w.events);
      if (w.secret) setSecret(w.secret);
      setFlash({ kind: 'success', text: t(created ? 'webhook.created' : 'webhook.saved') });
    } catch (err) {
      setSaveError(err);
    } finally {
      setBusy(null);
    }
  };

  const rotate = async () => {
    if (!hook) return;
    reset();
    setBusy('rotate');
    try {
      const w = await api.putWebhook({ url: hook.url, events: hook.events, rotate_secret: true });
      setHook(withoutSecret(w));
      if (w.secret) setSecret(w.secret);
      setConfirm(null);
      setFlash({ kind: 'success', text: t('webhook.rotated') });
    } catch (err) {
      setActionError(err);
    } finally {
      setBusy(null);
    }
  };

  const test = async () => {
    reset();
    setBusy('test');
    try {
      const d = await api.testWebhook();
      setPinged(d);
      setFlash({ kind: 'info', text: t('webhook.testQueued') });
    } catch (err) {
      // An earlier ping still pending is not a failure: say so calmly.
      if (isApiError(err) && err.code === 'webhook_test_pending') setFlash({ kind: 'warn', text: problem(err) });
      else setActionError(err);
    } finally {
      setBusy(null);
    }
  };

  const remove = async () => {
    reset();
    setBusy('delete');
    try {
      await api.deleteWebhook();
      setHook(null);
      setSecret(null);
      setPinged(null);
      setUrl('');
      setEvents(['batch.done']);
      setConfirm(null);
      setFlash({ kind: 'success', text: t('webhook.deleted') });
    } catch (err) {
      setActionError(err);
    } finally {
      setBusy(null);
    }
  };

  if (hook === undefined) {
    return (
      <section className="card" aria-labelledby="webhook-title">
        <h2 id="webhook-title">{t('webhook.title')}</h2>
        {loadError ? <ErrorNote error={loadError} onRetry={() => setTick((n) => n + 1)} /> : <Spinner />}
      </section>
    );
  }

  const dirty = !hook || url.trim() !== hook.url || !sameEvents(events, hook.events);
  const urlRefused = isApiError(saveError) && saveError.code.startsWith('webhook_url');
  const localText =
    local === 'noEvents' ? t('webhook.events.none') : local ? t(`webhook.url.${local}` as const, { max: WEBHOOK_URL_MAX }) : '';

  return (
    <>
      <section className="card" aria-labelledby="webhook-title" data-testid="webhook-card">
        <h2 id="webhook-title">{t('webhook.title')}</h2>
        <p className="muted">{t('webhook.intro')}</p>

        {secret && (
          <div className="token-once" role="status" data-testid="webhook-secret">
            <strong>{t('webhook.secret.title')}</strong>
            <p>{t('webhook.secret.once')}</p>
            <div className="row">
              <input
                className="input mono"
                readOnly
                value={secret}
                aria-label={t('webhook.secret.label')}
                onFocus={(e) => e.target.select()}
                data-testid="webhook-secret-value"
              />
              <CopyButton text={secret} />
            </div>
            <p className="muted small">{t('webhook.secret.verify')}</p>
            <button type="button" className="btn btn-small btn-ghost" onClick={() => setSecret(null)}>
              {t('webhook.secret.saved')}
            </button>
          </div>
        )}

        {!hook && <p className="placeholder-box webhook-none">{t('webhook.none')}</p>}

        <form className="form webhook-form" onSubmit={(e) => void save(e)} noValidate>
          <div className="field">
            <label className="label" htmlFor="webhook-url">
              {t('webhook.url')}
            </label>
            <input
              id="webhook-url"
              className="input mono"
              type="url"
              inputMode="url"
              autoComplete="off"
              spellCheck={false}
              placeholder={t('webhook.urlPlaceholder')}
              value={url}
              aria-invalid={(local && local !== 'noEvents') || urlRefused ? true : undefined}
              aria-describedby="webhook-url-hint"
              onChange={(e) => {
                setUrl(e.target.value);
                setLocal(null);
              }}
            />
            <p id="webhook-url-hint" className="muted small">
              {t('webhook.urlHint')}
            </p>
          </div>
          <fieldset className="fieldset">
            <legend className="label">{t('webhook.events')}</legend>
            {WEBHOOK_EVENTS.map((ev) => (
              <div key={ev} className="webhook-event">
                <label className="check">
                  <input
                    type="checkbox"
                    checked={events.includes(ev)}
                    aria-describedby={`webhook-event-${ev.replace('.', '-')}-hint`}
                    onChange={() => {
                      setEvents(toggleEvent(events, ev));
                      setLocal(null);
                    }}
                  />
                  <span>
                    {t(`webhook.event.${ev}` as MessageKey)} <span className="mono muted small">{ev}</span>
                  </span>
                </label>
                <p id={`webhook-event-${ev.replace('.', '-')}-hint`} className="muted small check-hint">
                  {t(`webhook.event.${ev}Hint` as MessageKey)}
                </p>
              </div>
            ))}
          </fieldset>
          {localText && (
            <p className="field-error" role="alert">
              {localText}
            </p>
          )}
          <ErrorNote error={saveError} />
          <div className="row">
            <button type="submit" className="btn btn-primary" disabled={busy !== null || !dirty}>
              {busy === 'save' ? t('webhook.saving') : hook ? t('webhook.save') : t('webhook.create')}
            </button>
          </div>
        </form>

        {hook && (
          <div className="webhook-manage">
            <dl className="facts">
              <dt>{t('webhook.createdAt')}</dt>
              <dd>{formatDateTime(hook.created_at)}</dd>
              <dt>{t('webhook.updatedAt')}</dt>
              <dd>{formatDateTime(hook.updated_at)}</dd>
            </dl>
            {!secret && <p className="muted small">{t('webhook.secret.hidden')}</p>}
            {confirm === 'rotate' ? (
              <div className="confirm-box" role="group" aria-label={t('webhook.rotate')}>
                <p className="text-warn">{t('webhook.rotateWarn')}</p>
                <div className="row">
                  <button type="button" className="btn btn-danger" disabled={busy !== null} onClick={() => void rotate()}>
                    {t('webhook.rotateConfirm')}
                  </button>
                  <button type="button" className="btn btn-ghost" onClick={() => setConfirm(null)}>
                    {t('common.cancel')}
                  </button>
                </div>
              </div>
            ) : confirm === 'delete' ? (
              <div className="confirm-box" role="group" aria-label={t('webhook.delete')}>
                <p className="text-warn">{t('webhook.deleteWarn')}</p>
                <div className="row">
                  <button type="button" className="btn btn-danger" disabled={busy !== null} onClick={() => void remove()}>
                    {t('webhook.deleteConfirm')}
                  </button>
                  <button type="button" className="btn btn-ghost" onClick={() => setConfirm(null)}>
                    {t('common.cancel')}
                  </button>
                </div>
              </div>
            ) : (
              <div className="row">
                <button type="button" className="btn" disabled={busy !== null} onClick={() => void test()}>
                  {busy === 'test' ? t('webhook.testing') : t('webhook.test')}
                </button>
                <button type="button" className="btn" disabled={busy !== null} onClick={() => (reset(), setConfirm('rotate'))}>
                  {t('webhook.rotate')}
                </button>
                <button type="button" className="btn btn-danger-outline" disabled={busy !== null} onClick={() => (reset(), setConfirm('delete'))}>
                  {t('webhook.delete')}
                </button>
              </div>
            )}
          </div>
        )}
        <div aria-live="polite">{flash && <Notice kind={flash.kind}>{flash.text}</Notice>}</div>
        <ErrorNote error={actionError} />
      </section>
      {hook && <DeliveryLog hookId={hook.id} pinged={pinged} />}
    </>
  );
}

const EMPTY: DeliveryList = { items: [], cursor: '' };
const PAGE = 20;

function statusTone(status: string): string {
  return status === 'delivered' ? 'succeeded' : status === 'failed' ? 'failed' : 'pending';
}

function DeliveryLog({ hookId, pinged }: { hookId: string; pinged: WebhookDelivery | null }) {
  const { t, lang, formatDateTime } = useI18n();
  const [list, setList] = useState<DeliveryList>(EMPTY);
  const [loading, setLoading] = useState(true);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const refresh = useCallback(async () => {
    setLoading(true);
    try {
      const page = await api.webhookDeliveries(undefined, PAGE);
      setList((l) => mergeFirstPage(l, page));
      setError(null);
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    setList(EMPTY);
    void refresh();
  }, [hookId, refresh]);

  // A queued ping shows at once; the top of the log is then refetched every
  // 2 s until the ping has an outcome (at most 30 s).
  useEffect(() => {
    if (!pinged) return;
    setList((l) => putOnTop(l, pinged));
    let stop = false;
    let tries = 0;
    let timer = 0;
    const poll = async () => {
      try {
        const page = await api.webhookDeliveries(undefined, PAGE);
        if (stop) return;
        setList((l) => mergeFirstPage(l, page));
        const d = page.items.find((x) => x.id === pinged.id);
        if (d && isSettled(d)) return;
      } catch {
        // Keep what is shown; the next try or the refresh button catches up.
      }
      if (!stop && ++tries < 15) timer = window.setTimeout(poll, 2000);
    };
    timer = window.setTimeout(poll, 1000);
    return () => {
      stop = true;
      window.clearTimeout(timer);
    };
  }, [pinged]);

  const loadMore = async () => {
    if (!list.cursor) return;
    setMore(true);
    try {
      const page = await api.webhookDeliveries(list.cursor, PAGE);
      setList((l) => appendPage(l, page));
      setError(null);
    } catch (e) {
      setError(e);
    } finally {
      setMore(false);
    }
  };

  const key = (k: string, fallback: string) => (hasMessage(lang, k) ? t(k as MessageKey) : fallback);
  const col = {
    event: t('deliveries.col.event'),
    status: t('deliveries.col.status'),
    attempts: t('deliveries.col.attempts'),
    code: t('deliveries.col.code'),
    error: t('deliveries.col.error'),
    created: t('deliveries.col.created'),
    lastAttempt: t('deliveries.col.lastAttempt'),
    delivered: t('deliveries.col.delivered'),
  };

  return (
    <section className="card" aria-labelledby="deliveries-title" data-testid="deliveries">
      <div className="card-head">
        <h2 id="deliveries-title">{t('deliveries.title')}</h2>
        <button type="button" className="btn btn-small" onClick={() => void refresh()} disabled={loading}>
          {t('common.refresh')}
        </button>
      </div>
      <p className="muted small">{t('deliveries.intro')}</p>
      <ErrorNote error={error} />
      {loading && list.items.length === 0 ? (
        <Spinner />
      ) : list.items.length === 0 ? (
        <p className="muted">{t('deliveries.empty')}</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table className="table table-stack" aria-busy={loading || more}>
            <thead>
              <tr>
                <th scope="col">{col.event}</th>
                <th scope="col">{col.status}</th>
                <th scope="col">{col.attempts}</th>
                <th scope="col">{col.code}</th>
                <th scope="col">{col.error}</th>
                <th scope="col">{col.created}</th>
                <th scope="col">{col.lastAttempt}</th>
                <th scope="col">{col.delivered}</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((d) => (
                <tr key={d.id} data-testid="delivery-row" data-status={d.status}>
                  <td data-label={col.event}>
                    <span>{key('webhook.event.' + d.event, d.event)}</span> <span className="mono muted small">{d.event}</span>
                    {d.batch_id && (
                      <div className="small">
                        <Link to={'/batches/' + encodeURIComponent(d.batch_id)}>{t('deliveries.batch', { id: d.batch_id.slice(-8) })}</Link>
                      </div>
                    )}
                  </td>
                  <td data-label={col.status}>
                    <span className={`pill status status-${statusTone(d.status)}`}>{key('deliveries.status.' + d.status, d.status)}</span>
                  </td>
                  <td data-label={col.attempts}>{d.attempts}</td>
                  <td data-label={col.code} className="mono">
                    {d.last_status_code ?? '—'}
                  </td>
                  <td data-label={col.error} className="detail-cell">
                    {d.last_error || '—'}
                  </td>
                  <td data-label={col.created} className="nowrap">
                    {formatDateTime(d.created_at)}
                  </td>
                  <td data-label={col.lastAttempt} className="nowrap">
                    {formatDateTime(d.last_attempt_at)}
                  </td>
                  <td data-label={col.delivered} className="nowrap">
                    {formatDateTime(d.delivered_at)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.cursor && (
        <button type="button" className="btn" onClick={() => void loadMore()} disabled={more}>
          {more ? t('app.loading') : t('common.loadMore')}
        </button>
      )}
    </section>
  );
}

function PresetsCard() {
  const { t } = useI18n();
  const presets = useAsync(loadAllPresets, []);
  return (
    <section className="card" aria-labelledby="presets-title" data-testid="presets-card">
      <h2 id="presets-title">{t('preset.title')}</h2>
      <p className="muted">
        {t('preset.intro')} <Link to="/new">{t('preset.goNew')}</Link>
      </p>
      {presets.loading && !presets.data ? (
        <Spinner />
      ) : presets.error ? (
        <ErrorNote error={presets.error} onRetry={presets.reload} />
      ) : (
        <>
          <PresetList items={presets.data ?? []} onChange={(next) => presets.setData(() => next)} />
          {(presets.data?.length ?? 0) > 0 && <p className="muted small">{t('preset.count', { count: presets.data!.length, max: MAX_PRESETS })}</p>}
        </>
      )}
    </section>
  );
}
