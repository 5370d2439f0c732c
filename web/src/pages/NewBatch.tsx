import { useEffect, useId, useMemo, useRef, useState } from 'react';
import {
  api,
  isApiError,
  type Category,
  type DryRunResult,
  type Element,
  type Province,
  type Region,
  type Road,
  type SubmitBody,
  type Upload,
} from '../api';
import { Combobox, type ComboOption } from '../components/Combobox';
import { RovingChips } from '../components/RovingChips';
import { ErrorNote, Notice, PageHeader } from '../components/common';
import { UploadZone, type PickedImage } from '../components/UploadZone';
import {
  ASPECTS,
  ENHANCES,
  RESOLUTIONS,
  buildRequest,
  clampGroups,
  defaultManual,
  defaultOutput,
  defaultSmart,
  normalizeBudget,
  requestKey,
  type BlockReason,
  type ManualState,
  type Mode,
  type OutputState,
  type SmartState,
} from '../batch/request';
import { PresetBar } from '../batch/PresetBar';
import { elementNames, type Suggestion } from '../batch/problem';
import { ProblemPanel, useLabels } from '../batch/ui';
import { formatMoney } from '../format';
import { useAsync, useDebounced } from '../hooks';
import { hasMessage } from '../i18n';
import { useI18n } from '../i18n/context';
import { navigate } from '../router';
import { useSession } from '../session';
import { maxUploadBytes } from '../upload';

const MONTHS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

export function isPoolMissing(e: unknown): boolean {
  return isApiError(e) && e.status === 404;
}

type UploadState = { state: 'idle' } | { state: 'uploading' } | { state: 'done'; data: Upload } | { state: 'error'; error: unknown };
type Busy = 'plan' | 'create' | 'archive' | null;

function toggle<T>(xs: T[], v: T): T[] {
  return xs.includes(v) ? xs.filter((x) => x !== v) : [...xs, v];
}

export function NewBatchPage() {
  const { t } = useI18n();
  const { meta, user } = useSession();
  const [mode, setMode] = useState<Mode>('smart');
  const [image, setImage] = useState<PickedImage | null>(null);
  const [upload, setUpload] = useState<UploadState>({ state: 'idle' });
  const [uploadTick, setUploadTick] = useState(0);
  const [smart, setSmart] = useState<SmartState>(defaultSmart);
  const [manual, setManual] = useState<ManualState>(() => defaultManual());
  const [output, setOutput] = useState<OutputState>(defaultOutput);
  const [preview, setPreview] = useState<{ key: string; result: DryRunResult } | null>(null);
  const [busy, setBusy] = useState<Busy>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [flash, setFlash] = useState('');
  const provinces = useAsync(() => api.provinces(), []);
  const roads = useAsync(() => api.roads(), []);
  const allElements = useAsync(() => api.elements({}), []);
  const usage = useAsync(() => api.usage(), []);
  const tabsId = useId();
  const previewRef = useRef<HTMLElement>(null);
  const groupsMax = typeof meta?.limits?.groups_max === 'number' ? (meta.limits.groups_max as number) : 12;

  // The photo is uploaded as soon as it passes the local checks.
  useEffect(() => {
    if (!image) {
      setUpload({ state: 'idle' });
      return;
    }
    let live = true;
    setUpload({ state: 'uploading' });
    api.upload(image.file).then(
      (data) => live && setUpload({ state: 'done', data }),
      (error: unknown) => live && setUpload({ state: 'error', error }),
    );
    return () => {
      live = false;
    };
  }, [image, uploadTick]);

  const uploadId = upload.state === 'done' ? upload.data.id : null;
  const built = buildRequest(mode, uploadId, smart, manual, output);
  const blocked: BlockReason[] = upload.state === 'uploading' ? built.blocked.map((b) => (b === 'needUpload' ? 'uploading' : b)) : built.blocked;
  const key = requestKey(built.body);
  const current = preview !== null && preview.key === key;

  const plan = async (body: SubmitBody | null = built.body) => {
    if (!body) return;
    setBusy('plan');
    setFailure(null);
    setFlash('');
    try {
      const result = await api.planBatch(body);
      setPreview({ key: requestKey(body), result });
      window.requestAnimationFrame(() => previewRef.current?.scrollIntoView?.({ block: 'nearest', behavior: 'smooth' }));
    } catch (e) {
      setPreview(null);
      setFailure(e);
    } finally {
      setBusy(null);
    }
  };

  const create = async () => {
    if (!built.body) return;
    setBusy('create');
    setFailure(null);
    setFlash('');
    const body: SubmitBody = { ...built.body };
    // The same seed (and the same history) gives the plan that was previewed.
    if (current && mode === 'smart') body.seed = preview!.result.plan.seed;
    try {
      const b = await api.createBatch(body);
      navigate('/batches/' + encodeURIComponent(b.id));
    } catch (e) {
      setFailure(e);
      setBusy(null);
    }
  };

  const suggest = async (s: Suggestion, found?: number) => {
    if (s === 'archive_history') {
      setBusy('archive');
      try {
        const r = await api.archiveHistory();
        setFailure(null);
        setPreview(null);
        setFlash(t('batch.archived', { count: r.archived }));
      } catch (e) {
        setFailure(e);
      } finally {
        setBusy(null);
      }
      return;
    }
    let next = smart;
    if (s === 'allow_same_province') next = { ...smart, allowSameProvince: true };
    if (s === 'widen_filters') next = { ...smart, provinces: [], months: [], roads: [], categories: [] };
    if (s === 'fewer_groups' && found) next = { ...smart, groups: clampGroups(found, groupsMax) };
    setSmart(next);
    await plan(buildRequest(mode, uploadId, next, manual, output).body);
  };

  const estimate = current ? preview!.result.estimate : null;
  const rt = usage.data?.remaining_today;
  const rm = usage.data?.remaining_this_month;

  return (
    <section>
      <PageHeader title={t('new.title')}>{t('new.intro')}</PageHeader>
      <PresetBar
        form={{ mode, smart, manual, output }}
        groupsMax={groupsMax}
        isAdmin={user.role === 'admin'}
        onApply={(f) => {
          setMode(f.mode);
          setSmart(f.smart);
          setManual(f.manual);
          setOutput(f.output);
          setFailure(null);
          setFlash('');
        }}
      />
      <div className="new-grid">
        <section className="card" aria-labelledby="upload-title">
          <h2 id="upload-title">{t('upload.title')}</h2>
          <UploadZone maxBytes={maxUploadBytes(meta?.limits)} value={image} onChange={setImage} />
          <UploadStatus upload={upload} onRetry={() => setUploadTick((n) => n + 1)} />
        </section>

        <section className="card" aria-label={t('new.mode')}>
          <div className="tabs" role="tablist" aria-label={t('new.mode')}>
            {(['smart', 'manual'] as const).map((m) => (
              <button
                key={m}
                type="button"
                role="tab"
                id={`${tabsId}-${m}`}
                aria-selected={mode === m}
                aria-controls={`${tabsId}-${m}-panel`}
                tabIndex={mode === m ? 0 : -1}
                className={mode === m ? 'is-on' : ''}
                onClick={() => setMode(m)}
                onKeyDown={(e) => {
                  if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
                    const next = m === 'smart' ? 'manual' : 'smart';
                    setMode(next);
                    document.getElementById(`${tabsId}-${next}`)?.focus();
                  }
                }}
              >
                <span className="tab-title">{t(m === 'smart' ? 'new.mode.smart' : 'new.mode.manual')}</span>
                <span className="tab-hint">{t(m === 'smart' ? 'new.mode.smartHint' : 'new.mode.manualHint')}</span>
              </button>
            ))}
          </div>
          <div role="tabpanel" id={`${tabsId}-${mode}-panel`} aria-labelledby={`${tabsId}-${mode}`} className="tabpanel">
            {mode === 'smart' ? (
              <SmartForm
                value={smart}
                onChange={setSmart}
                groupsMax={groupsMax}
                provinces={provinces.data?.items}
                provincesError={provinces.error}
                reload={provinces.reload}
                roads={roads.data?.items}
                categories={allElements.data?.categories}
              />
            ) : (
              <ManualForm
                value={manual}
                onChange={setManual}
                provinces={provinces.data?.items}
                provincesLoading={provinces.loading}
                provincesError={provinces.error}
                reload={provinces.reload}
                roads={roads}
              />
            )}
          </div>
          <OutputForm value={output} onChange={setOutput} currency={meta?.currency ?? ''} isAdmin={user.role === 'admin'} />
        </section>
      </div>

      <div className="actions-bar" aria-busy={busy !== null}>
        <div className="row">
          <button type="button" className="btn btn-large" disabled={!built.body || busy !== null} onClick={() => void plan()}>
            {busy === 'plan' ? t('new.previewing') : t('new.preview')}
          </button>
          <button
            type="button"
            className="btn btn-primary btn-large"
            disabled={!built.body || busy !== null}
            aria-describedby="generate-note"
            onClick={() => void create()}
          >
            {busy === 'create' ? t('new.submitting') : estimate ? t('new.generateN', { images: estimate.images }) : t('new.generate')}
          </button>
        </div>
        <div id="generate-note" className="actions-note" aria-live="polite">
          {blocked.length > 0 ? (
            <strong>{blocked.map((b) => t(`new.blocked.${b}` as const)).join(' · ')}</strong>
          ) : estimate ? (
            <span data-testid="estimate">
              {t('plan.summary', { groups: preview!.result.plan.groups.length, images: estimate.images, total: formatMoney(estimate.total) })}
            </span>
          ) : preview ? (
            <span className="text-warn">{t('new.previewStale')}</span>
          ) : (
            <span className="muted">{t('new.previewHint')}</span>
          )}
          {(rt || rm) && (
            <div className="muted small">
              {t('new.budgetLeft', { today: rt ? formatMoney(rt) : t('usage.noBudget'), month: rm ? formatMoney(rm) : t('usage.noBudget') })}
            </div>
          )}
        </div>
      </div>

      {flash && <Notice kind="success">{flash}</Notice>}
      <ProblemPanel error={failure} onSuggestion={(s, f) => void suggest(s, f)} busy={busy !== null} />

      {preview && (
        <section ref={previewRef} className={`card plan-preview${current ? '' : ' is-stale'}`} aria-labelledby="plan-title" data-testid="plan-preview">
          <PlanPreview result={preview.result} stale={!current} smart={mode === 'smart'} />
        </section>
      )}
    </section>
  );
}

function UploadStatus({ upload, onRetry }: { upload: UploadState; onRetry: () => void }) {
  const { t, lang } = useI18n();
  if (upload.state === 'idle') return null;
  if (upload.state === 'uploading') {
    return (
      <p className="upload-status muted" role="status">
        <span className="spinner spinner-inline" aria-hidden="true" /> {t('upload.uploading')}
      </p>
    );
  }
  if (upload.state === 'error') {
    return (
      <div className="upload-status">
        <ErrorNote error={upload.error} onRetry={isApiError(upload.error) && upload.error.status < 500 && upload.error.status !== 0 ? undefined : onRetry} />
      </div>
    );
  }
  const warnings = upload.data.warnings ?? [];
  return (
    <div className="upload-status" data-testid="upload-done">
      <p className="text-success" role="status">
        ✓ {t('upload.uploaded')} <span className="muted small mono">{upload.data.width}×{upload.data.height}</span>
      </p>
      {warnings.map((w) => (
        <Notice key={w.code} kind="warn">
          {hasMessage(lang, 'upload.warning.' + w.code) ? t(('upload.warning.' + w.code) as never, w.params ?? undefined) : w.detail}
        </Notice>
      ))}
    </div>
  );
}

function PlanPreview({ result, stale, smart }: { result: DryRunResult; stale: boolean; smart: boolean }) {
  const { t } = useI18n();
  const l = useLabels();
  const { plan, estimate } = result;
  return (
    <>
      <h2 id="plan-title">
        {t('plan.title')}
        {stale && <span className="pill status-paused">{t('new.previewStale')}</span>}
      </h2>
      <p>
        <strong>{t('plan.summary', { groups: plan.groups.length, images: estimate.images, total: formatMoney(estimate.total) })}</strong>
        {estimate.per_image && <span className="muted"> · {t('plan.perImage', { price: formatMoney(estimate.per_image) })}</span>}
        {smart && plan.seed ? <span className="muted small mono"> · {t('plan.seed', { seed: plan.seed })}</span> : null}
      </p>
      {!stale && smart && <p className="muted small">{t('new.samePlan')}</p>}
      <div className="table-wrap" tabIndex={0}>
        <table className="table plan-table">
          <thead>
            <tr>
              <th scope="col">{t('plan.col.group')}</th>
              <th scope="col">{t('plan.col.county')}</th>
              <th scope="col">{t('plan.col.month')}</th>
              <th scope="col">{t('plan.col.road')}</th>
              <th scope="col">{t('plan.col.elements')}</th>
              <th scope="col">{t('plan.col.variants')}</th>
            </tr>
          </thead>
          <tbody>
            {plan.groups.map((g) => (
              <tr key={g.index}>
                <td className="nowrap">{g.index + 1}</td>
                <td>
                  <strong>{l.shortPlace(g.scene)}</strong>
                  <div className="muted small">
                    {g.scene.province} · {g.scene.prefecture}
                  </div>
                </td>
                <td className="nowrap">
                  {l.month(g.combination.month)}
                  <div className="muted small">{l.season(g.scene.season)}</div>
                </td>
                <td className="nowrap">{l.road(g.scene.road)}</td>
                <td>{l.elements(g.scene.elements)}</td>
                <td className="small">{g.variants.map((v) => l.variant(v)).join(' / ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function PoolError({ error, reload }: { error: unknown; reload: () => void }) {
  const { t } = useI18n();
  if (!error) return null;
  if (isPoolMissing(error)) return <Notice kind="warn">{t('pool.notReady')}</Notice>;
  return <ErrorNote error={error} onRetry={reload} />;
}

export function provinceOptions(items: Province[] | undefined, lang: string): ComboOption[] {
  return (items ?? []).map((p) => ({
    value: p.code,
    label: lang === 'en' ? p.pinyin : p.name,
    hint: lang === 'en' ? p.short : p.pinyin,
    keywords: `${p.name} ${p.short} ${p.pinyin}`,
  }));
}

export function countyOptions(items: Region[] | undefined, lang: string): ComboOption[] {
  return (items ?? []).map((r) => ({
    value: r.code,
    label: lang === 'en' ? r.pinyin : r.name,
    hint: lang === 'en' ? `${r.name} · ${r.prefecture.pinyin ?? r.prefecture.name}` : `${r.prefecture.name} · ${r.pinyin}`,
    keywords: `${r.name} ${r.pinyin} ${r.prefecture.name} ${(r.aliases ?? []).map((a) => `${a.name} ${a.pinyin ?? ''}`).join(' ')}`,
  }));
}

export function useZoneName() {
  const { t, lang } = useI18n();
  return (zone: string) => {
    const key = 'zone.' + zone;
    return hasMessage(lang, key) ? t(key as never) : zone;
  };
}

/** CountySearch asks the pool search API (hanzi, pinyin, former names) and jumps to the county picked. */
function CountySearch({ onPick }: { onPick: (r: Region) => void }) {
  const { t, lang } = useI18n();
  const [q, setQ] = useState('');
  const dq = useDebounced(q.trim(), 250);
  const search = useAsync(dq ? () => api.searchRegions(dq, undefined, 20) : null, [dq]);
  const items = dq ? search.data?.items ?? [] : [];
  const options = items.map((r) => ({
    value: r.code,
    label: lang === 'en' ? r.pinyin : r.name,
    hint:
      (lang === 'en' ? `${r.name} · ${r.province_name}` : `${r.province_name} · ${r.prefecture.name}`) +
      (r.matched_field === 'alias' && r.matched_text ? ` · ${t('pool.aliasMatch', { name: r.matched_text })}` : ''),
  }));
  return (
    <Combobox
      label={t('manual.search')}
      options={options}
      value={null}
      loading={!!dq && search.loading}
      placeholder={t('manual.searchPlaceholder')}
      emptyText={t('manual.searchPlaceholder')}
      onQueryChange={setQ}
      onChange={(code) => {
        const r = items.find((x) => x.code === code);
        if (r) onPick(r);
      }}
    />
  );
}

function ManualForm({
  value,
  onChange,
  provinces,
  provincesLoading,
  provincesError,
  reload,
  roads,
}: {
  value: ManualState;
  onChange: (v: ManualState) => void;
  provinces: Province[] | undefined;
  provincesLoading: boolean;
  provincesError: unknown;
  reload: () => void;
  roads: { data?: { items: Road[] }; loading: boolean; error: unknown; reload: () => void };
}) {
  const { t, lang, monthName } = useI18n();
  const zoneName = useZoneName();
  const province = value.province ?? null;
  const { county, month, road } = value;
  const set = (patch: Partial<ManualState>) => onChange({ ...value, ...patch });

  const counties = useAsync(province ? () => api.counties(province) : null, [province]);
  const region = counties.data?.items.find((r) => r.code === county) ?? null;
  const zone = region?.zone ?? '';
  const elements = useAsync(zone && road ? () => api.elements({ zone, month, road }) : null, [zone, month, road]);

  // Keep only the picked elements that still fit after a change of county,
  // month or road, and say which were removed and why.
  const latest = useRef(value);
  latest.current = value;
  const names = useRef(new Map<string, string>());
  const lastCtx = useRef({ zone, month, road });
  const [removed, setRemoved] = useState<{ names: string[]; why: string } | null>(null);
  useEffect(() => {
    const items = elements.data?.items;
    if (!items) return;
    for (const e of items) {
      names.current.set(e.id, lang === 'en' ? e.en : e.zh);
      elementNames.set(e.id, lang === 'en' ? e.en : e.zh);
    }
    const ok = new Set(items.map((e) => e.id));
    const v = latest.current;
    const kept = v.elements.filter((id) => ok.has(id));
    const prev = lastCtx.current;
    lastCtx.current = { zone, month, road };
    if (kept.length !== v.elements.length) {
      const gone = v.elements.filter((id) => !ok.has(id)).map((id) => names.current.get(id) ?? id);
      const why =
        prev.month !== month
          ? t('manual.removedMonth', { month: monthName(month) })
          : prev.road !== road
            ? t('manual.removedRoad', { road: (roads.data?.items ?? []).find((r: Road) => r.id === road)?.[lang === 'en' ? 'en' : 'zh'] ?? road })
            : t('manual.removedPlace', { zone: zoneName(zone) });
      setRemoved({ names: gone, why });
      onChange({ ...v, elements: kept });
    }
  }, [elements.data]);

  const pOpts = useMemo(() => provinceOptions(provinces, lang), [provinces, lang]);
  const cOpts = useMemo(() => countyOptions(counties.data?.items, lang), [counties.data, lang]);

  if (provincesError) return <PoolError error={provincesError} reload={reload} />;

  return (
    <form className="form" onSubmit={(e) => e.preventDefault()}>
      <CountySearch onPick={(r) => set({ province: r.province_code, county: r.code })} />
      <p className="muted small form-sep">{t('manual.orCascade')}</p>
      <div className="form-row">
        <Combobox
          label={t('manual.province')}
          options={pOpts}
          value={province}
          loading={provincesLoading}
          placeholder={t('manual.provincePlaceholder')}
          onChange={(v) => set({ province: v, county: null })}
        />
        <Combobox
          label={t('manual.county')}
          options={cOpts}
          value={county}
          loading={counties.loading}
          disabled={!province}
          disabledText={t('manual.countyFirst')}
          placeholder={t('manual.countyPlaceholder')}
          onChange={(v) => set({ county: v })}
        />
      </div>
      {counties.error ? <ErrorNote error={counties.error} onRetry={counties.reload} /> : null}
      {region && (
        <p className="muted small">
          {t('manual.zone', { zone: zoneName(region.zone) })} · {(region.terrain ?? []).map((x) => (lang === 'en' ? x.en : x.zh)).join(lang === 'en' ? '; ' : '、')}
        </p>
      )}

      <div className="form-row">
        <div className="field">
          <label className="label" htmlFor="manual-month">
            {t('manual.month')}
          </label>
          <select id="manual-month" className="input" value={month} onChange={(e) => set({ month: Number(e.target.value) })}>
            {MONTHS.map((m) => (
              <option key={m} value={m}>
                {monthName(m)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label className="label" htmlFor="manual-road">
            {t('manual.road')}
          </label>
          <select
            id="manual-road"
            className="input"
            value={road}
            disabled={roads.loading || !!roads.error}
            onChange={(e) => set({ road: e.target.value })}
          >
            <option value="">{roads.loading ? t('app.loading') : t('manual.roadPlaceholder')}</option>
            {(roads.data?.items ?? []).map((r: Road) => (
              <option key={r.id} value={r.id}>
                {lang === 'en' ? r.en : r.zh}
              </option>
            ))}
          </select>
        </div>
      </div>
      {roads.error ? <PoolError error={roads.error} reload={roads.reload} /> : null}

      <fieldset className="fieldset">
        <legend className="label">
          {t('manual.elements')}
          {value.elements.length > 0 && <span className="badge">{t('common.selected', { count: value.elements.length })}</span>}
        </legend>
        <p className="muted small">{t('manual.elementsHint')}</p>
        {removed ? (
          <div role="status" data-testid="elements-removed">
            <Notice kind="warn">{t('manual.removed', { names: removed.names.join(lang === 'en' ? ', ' : '、'), why: removed.why })}</Notice>
          </div>
        ) : null}
        {!zone || !road ? (
          <p className="placeholder-box">{t('manual.elementsNeedCounty')}</p>
        ) : elements.loading ? (
          <p className="muted">{t('app.loading')}</p>
        ) : elements.error ? (
          <PoolError error={elements.error} reload={elements.reload} />
        ) : (
          <ElementPicker
            items={elements.data?.items ?? []}
            categories={elements.data?.categories ?? []}
            picked={value.elements}
            onToggle={(id) => set({ elements: toggle(value.elements, id) })}
          />
        )}
      </fieldset>
    </form>
  );
}

function ElementPicker({
  items,
  categories,
  picked,
  onToggle,
}: {
  items: Element[];
  categories: Category[];
  picked: string[];
  onToggle: (id: string) => void;
}) {
  const { t, lang } = useI18n();
  if (items.length === 0) return <p className="muted">{t('common.noResults')}</p>;
  const known = new Set(categories.map((c) => c.id));
  const groups: { id: string; label: string; items: Element[] }[] = categories
    .map((c) => ({ id: c.id, label: lang === 'en' ? c.en : c.zh, items: items.filter((e) => e.category === c.id) }))
    .filter((g) => g.items.length > 0);
  const rest = items.filter((e) => !known.has(e.category));
  if (rest.length) groups.push({ id: '_other', label: t('common.all'), items: rest });
  return (
    <div className="element-groups">
      {groups.map((g) => (
        <div key={g.id} className="element-group" role="group" aria-label={g.label}>
          <div className="element-group-title">{g.label}</div>
          <RovingChips label={g.label}>
            {g.items.map((e) => (
              <label key={e.id} className={`chip${picked.includes(e.id) ? ' is-on' : ''}`} title={lang === 'en' ? e.zh : e.en}>
                <input type="checkbox" checked={picked.includes(e.id)} onChange={() => onToggle(e.id)} />
                <span>{lang === 'en' ? e.en : e.zh}</span>
              </label>
            ))}
          </RovingChips>
        </div>
      ))}
    </div>
  );
}

function ChipSet<T extends string | number>({
  legend,
  hint,
  options,
  value,
  onChange,
}: {
  legend: string;
  hint: string;
  options: { value: T; label: string }[];
  value: T[];
  onChange: (v: T[]) => void;
}) {
  const { t } = useI18n();
  return (
    <fieldset className="fieldset">
      <legend className="label">
        {legend} <span className="muted">{t('common.optional')}</span>
        {value.length > 0 && (
          <button type="button" className="link-btn" onClick={() => onChange([])}>
            {t('common.clear')}
          </button>
        )}
      </legend>
      <p className="muted small">{hint}</p>
      <RovingChips label={legend}>
        {options.map((o) => (
          <label key={String(o.value)} className={`chip${value.includes(o.value) ? ' is-on' : ''}`}>
            <input type="checkbox" checked={value.includes(o.value)} onChange={() => onChange(toggle(value, o.value))} />
            <span>{o.label}</span>
          </label>
        ))}
      </RovingChips>
    </fieldset>
  );
}

function SmartForm({
  value,
  onChange,
  groupsMax,
  provinces,
  provincesError,
  reload,
  roads,
  categories,
}: {
  value: SmartState;
  onChange: (v: SmartState) => void;
  groupsMax: number;
  provinces: Province[] | undefined;
  provincesError: unknown;
  reload: () => void;
  roads: Road[] | undefined;
  categories: Category[] | undefined;
}) {
  const { t, lang, monthName } = useI18n();
  const l = useLabels();
  const set = (patch: Partial<SmartState>) => onChange({ ...value, ...patch });
  const clamp = (n: number) => clampGroups(n, groupsMax);
  const groups = value.groups;

  return (
    <form className="form" onSubmit={(e) => e.preventDefault()}>
      <div className="field">
        <label className="label" htmlFor="smart-groups">
          {t('smart.groups')}
        </label>
        <div className="stepper">
          <button type="button" className="btn" aria-label={t('smart.fewer')} onClick={() => set({ groups: clamp(groups - 1) })} disabled={groups <= 1}>
            −
          </button>
          <input
            id="smart-groups"
            className="input"
            type="number"
            min={1}
            max={groupsMax}
            step={1}
            value={groups}
            aria-describedby="smart-groups-hint"
            onChange={(e) => set({ groups: clamp(Number(e.target.value)) })}
          />
          <button type="button" className="btn" aria-label={t('smart.more')} onClick={() => set({ groups: clamp(groups + 1) })} disabled={groups >= groupsMax}>
            +
          </button>
        </div>
        <p id="smart-groups-hint" className="muted small">
          {t('smart.groupsHint')}
        </p>
      </div>

      {provincesError ? (
        <PoolError error={provincesError} reload={reload} />
      ) : !provinces ? (
        <p className="muted">{t('app.loading')}</p>
      ) : (
        <ChipSet
          legend={t('smart.provinces')}
          hint={t('smart.provincesHint')}
          options={provinces.map((p) => ({ value: p.code, label: lang === 'en' ? p.pinyin : p.short }))}
          value={value.provinces}
          onChange={(provinces) => set({ provinces })}
        />
      )}

      <ChipSet
        legend={t('smart.months')}
        hint={t('smart.monthsHint')}
        options={MONTHS.map((m) => ({ value: m, label: monthName(m) }))}
        value={value.months}
        onChange={(months) => set({ months })}
      />

      {roads && roads.length > 0 && (
        <ChipSet
          legend={t('smart.roads')}
          hint={t('smart.roadsHint')}
          options={roads.map((r) => ({ value: r.id, label: l.road({ id: r.id, zh: r.zh, en: r.en }) }))}
          value={value.roads}
          onChange={(roads) => set({ roads })}
        />
      )}

      {categories && categories.length > 0 && (
        <ChipSet
          legend={t('smart.categories')}
          hint={t('smart.categoriesHint')}
          options={categories.map((c) => ({ value: c.id, label: lang === 'en' ? c.en : c.zh }))}
          value={value.categories}
          onChange={(categories) => set({ categories })}
        />
      )}

      <label className="check">
        <input
          type="checkbox"
          checked={value.allowSameProvince}
          aria-describedby="same-province-hint"
          onChange={(e) => set({ allowSameProvince: e.target.checked })}
        />
        <span>{t('smart.allowSameProvince')}</span>
      </label>
      <p id="same-province-hint" className="muted small check-hint">
        {t('smart.allowSameProvinceHint')}
      </p>
    </form>
  );
}

function Segmented<T extends string | number>({
  legend,
  name,
  options,
  value,
  onChange,
  hint,
}: {
  legend: string;
  name: string;
  options: { value: T; label: string }[];
  value: T;
  onChange: (v: T) => void;
  hint?: string;
}) {
  return (
    <fieldset className="fieldset">
      <legend className="label">{legend}</legend>
      {hint && <p className="muted small">{hint}</p>}
      <div className="segmented">
        {options.map((o) => (
          <label key={String(o.value)} className={value === o.value ? 'is-on' : ''}>
            <input type="radio" name={name} value={String(o.value)} checked={value === o.value} onChange={() => onChange(o.value)} />
            <span>{o.label}</span>
          </label>
        ))}
      </div>
    </fieldset>
  );
}

function OutputForm({
  value,
  onChange,
  currency,
  isAdmin,
}: {
  value: OutputState;
  onChange: (v: OutputState) => void;
  currency: string;
  isAdmin: boolean;
}) {
  const { t } = useI18n();
  const set = (patch: Partial<OutputState>) => onChange({ ...value, ...patch });
  const badBudget = normalizeBudget(value.budget) === null;
  return (
    <section className="output-options" aria-labelledby="output-title">
      <h3 id="output-title">{t('output.title')}</h3>
      <div className="form">
        <Segmented
          legend={t('output.aspect')}
          name="output-aspect"
          options={ASPECTS.map((a) => ({ value: a, label: t(`output.aspect.${a}` as const) }))}
          value={value.aspect}
          onChange={(aspect) => set({ aspect })}
        />
        <Segmented
          legend={t('output.resolution')}
          name="output-resolution"
          options={RESOLUTIONS.map((r) => ({ value: r, label: t('output.resolutionValue', { px: r }) }))}
          value={value.resolution}
          onChange={(resolution) => set({ resolution })}
        />
        <Segmented
          legend={t('output.enhance')}
          hint={t('output.enhanceHint')}
          name="output-enhance"
          options={ENHANCES.map((e) => ({ value: e, label: t(`output.enhance.${e}` as const) }))}
          value={value.enhance}
          onChange={(enhance) => set({ enhance })}
        />
        <div className="form-row">
          <div className="field">
            <label className="label" htmlFor="output-budget">
              {t('output.budget')} <span className="muted">{t('common.optional')}</span>
            </label>
            <input
              id="output-budget"
              className="input"
              inputMode="decimal"
              autoComplete="off"
              placeholder={t('output.budgetPlaceholder')}
              value={value.budget}
              aria-invalid={badBudget || undefined}
              aria-describedby="output-budget-hint"
              onChange={(e) => set({ budget: e.target.value })}
            />
            <p id="output-budget-hint" className={badBudget ? 'field-error' : 'muted small'}>
              {badBudget ? t('new.blocked.badBudget') : t('output.budgetHint', { currency: currency || '—' })}
            </p>
          </div>
          <div className="field">
            <label className="label" htmlFor="output-priority">
              {t('output.priority')}
            </label>
            <select id="output-priority" className="input" value={value.priority} onChange={(e) => set({ priority: e.target.value as OutputState['priority'] })}>
              <option value="low">{t('output.priority.low')}</option>
              <option value="normal">{t('output.priority.normal')}</option>
              {isAdmin && <option value="high">{t('output.priority.high')}</option>}
            </select>
          </div>
        </div>
      </div>
    </section>
  );
}
