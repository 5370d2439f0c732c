import { useState } from 'react';
import { isApiError, type Scene, type SceneLabel } from '../api';
import { splitDuration } from '../format';
import { hasMessage } from '../i18n';
import { useI18n } from '../i18n/context';
import { explainProblem, type Suggestion } from './problem';

/** useLabels gives the display texts of the domain's ids, falling back to the server's words. */
export function useLabels() {
  const { t, lang, monthName } = useI18n();
  const key = (k: string, fallback: string) => (hasMessage(lang, k) ? t(k as never) : fallback);
  return {
    batchStatus: (s: string) => key('batch.status.' + s, s),
    imageStatus: (s: string) => key('image.status.' + s, s),
    groupStatus: (s: string) => key('group.status.' + s, s),
    mode: (m: string) => key(m === 'manual' ? 'new.mode.manual' : m === 'smart' ? 'new.mode.smart' : '_', m),
    season: (s: string) => key('season.' + s, s),
    road: (r: SceneLabel | string) => {
      const id = typeof r === 'string' ? r : r.id;
      const fallback = typeof r === 'string' ? r : lang === 'en' ? r.en : r.zh;
      return key('road.' + id, fallback);
    },
    element: (e: SceneLabel) => (lang === 'en' ? e.en : e.zh),
    elements: (es: SceneLabel[] | null | undefined) => (es ?? []).map((e) => (lang === 'en' ? e.en : e.zh)).join(lang === 'en' ? '; ' : '、'),
    /** place: "河北省 邢台市 信都区" or "Xindu Qu, Hebei". */
    place: (s: Scene) => (lang === 'en' ? `${s.county_pinyin || s.county} (${s.county}), ${s.province}` : `${s.province} ${s.prefecture} ${s.county}`),
    shortPlace: (s: Scene) => (lang === 'en' ? s.county_pinyin || s.county : `${s.county}`),
    month: (m: number) => monthName(m),
    variant: (v: { id: string; time?: string; weather?: string }) => {
      if (v.time && v.weather) return t('variant.label', { time: key('time.' + v.time, v.time), weather: key('weather.' + v.weather, v.weather) });
      return v.id;
    },
    reason: (r: string) => {
      if (!r) return '';
      if (r.startsWith('similar')) return key('reason.similar', r);
      return key('reason.' + r, r);
    },
    duration: (seconds: number) => {
      const d = splitDuration(seconds);
      if (d.unit === 'hours') return t('duration.hours', { h: d.h, m: d.m });
      return t(d.unit === 'seconds' ? 'duration.seconds' : 'duration.minutes', { n: d.n });
    },
  };
}

export function StatusPill({ status, kind = 'batch' }: { status: string; kind?: 'batch' | 'image' | 'group' }) {
  const l = useLabels();
  const text = kind === 'batch' ? l.batchStatus(status) : kind === 'image' ? l.imageStatus(status) : l.groupStatus(status);
  return <span className={`pill status status-${status}`}>{text}</span>;
}

/**
 * ProblemPanel explains a refused batch: the translated message, the facts
 * from the problem's params (budget, binding constraint…), the server's own
 * detail, and buttons for the ways out the server suggests.
 */
export function ProblemPanel({
  error,
  onSuggestion,
  busy,
}: {
  error: unknown;
  onSuggestion?: (s: Suggestion, found?: number) => void;
  busy?: boolean;
}) {
  const { t, problem, formatDateTime } = useI18n();
  const [confirmArchive, setConfirmArchive] = useState(false);
  if (!error) return null;
  if (!isApiError(error)) {
    return (
      <div className="note note-error" role="alert">
        {problem(error)}
      </div>
    );
  }
  const ex = explainProblem(error);
  const headline = problem(error);
  const factText = (key: string, params?: Record<string, unknown>) => {
    const p = { ...params };
    if (key === 'batch.problem.nearDimension' && typeof p.dimension === 'string') p.dimension = t(('dim.' + p.dimension) as never);
    if (key === 'batch.problem.earlierAt' && typeof p.at === 'string') p.at = formatDateTime(p.at);
    return t(key as never, p);
  };
  return (
    <div className="problem-panel note-error" role="alert" data-testid="problem-panel" data-code={error.code}>
      <strong className="problem-title">{t(`batch.problem.title.${ex.kind}` as never)}</strong>
      {/* Budget and infeasible problems say it all in their facts. */}
      {(ex.facts.length === 0 || (ex.kind !== 'budget' && ex.kind !== 'infeasible')) && <p className="problem-headline">{headline}</p>}
      {ex.facts.length > 0 && (
        <ul className="problem-facts">
          {ex.facts.map((f, i) => (
            <li key={i}>{factText(f.key, f.params)}</li>
          ))}
        </ul>
      )}
      {error.detail && error.detail !== headline && (
        <details className="problem-detail" open={ex.kind === 'infeasible'}>
          <summary>{t('batch.problem.detail')}</summary>
          <p lang="en">{error.detail}</p>
        </details>
      )}
      {onSuggestion && ex.suggestions.length > 0 && (
        <div className="problem-suggest">
          <span>{t('batch.suggest.title')}</span>
          {ex.suggestions.map((s) =>
            s === 'archive_history' && !confirmArchive ? (
              <button key={s} type="button" className="btn btn-small" disabled={busy} onClick={() => setConfirmArchive(true)}>
                {t('batch.suggest.archive_history')}
              </button>
            ) : s === 'archive_history' ? (
              <button key={s} type="button" className="btn btn-small btn-danger" disabled={busy} onClick={() => onSuggestion(s)}>
                {t('batch.archiveConfirm')}
              </button>
            ) : (
              <button key={s} type="button" className="btn btn-small" disabled={busy} onClick={() => onSuggestion(s, ex.found)}>
                {t(`batch.suggest.${s}` as never, { found: ex.found ?? '' })}
              </button>
            ),
          )}
        </div>
      )}
      {error.request_id && <small className="muted mono">{t('common.requestId', { id: error.request_id })}</small>}
    </div>
  );
}
