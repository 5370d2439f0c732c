import { useState, type FormEvent } from 'react';
import { api, type Preset, type PresetSettings } from '../api';
import { PRESET_NAME_MAX, checkPresetName, filterCount, removePreset, upsertPreset } from '../batch/preset';
import { formatMoney } from '../format';
import { useI18n } from '../i18n/context';
import { useSession } from '../session';
import { ErrorNote, Notice } from './common';

/** loadAllPresets fetches every page (a user has at most 100 presets; one page holds 200). */
export async function loadAllPresets(): Promise<Preset[]> {
  const out: Preset[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 20; i++) {
    const page = await api.listPresets(cursor);
    out.push(...page.items);
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  return out;
}

/** usePresetSummary gives the one-line description of a preset's settings. */
export function usePresetSummary() {
  const { t } = useI18n();
  const { meta } = useSession();
  return (s: PresetSettings): string => {
    const parts: string[] = [];
    if (s.mode === 'manual') {
      parts.push(t('preset.summary.manual'));
    } else {
      parts.push(t('preset.summary.smart', { groups: s.groups ?? '?' }));
      const n = filterCount(s);
      parts.push(n ? t('preset.summary.filters', { count: n }) : t('preset.summary.noFilters'));
    }
    if (s.aspect) parts.push(t(`output.aspect.${s.aspect}` as const));
    if (s.resolution) parts.push(t('output.resolutionValue', { px: s.resolution }));
    if (s.enhance) parts.push(`${t('output.enhance')} ${t(`output.enhance.${s.enhance}` as const)}`);
    if (s.priority && s.priority !== 'normal') parts.push(`${t('output.priority')} ${t(`output.priority.${s.priority}` as const)}`);
    if (s.budget) parts.push(t('preset.summary.budget', { budget: formatMoney({ amount: s.budget, currency: meta?.currency ?? '' }) }));
    return parts.join(' · ');
  };
}

/**
 * PresetList lists presets with rename and delete. The caller owns the list;
 * every change the server accepted comes back through onChange.
 */
export function PresetList({ items, onChange }: { items: Preset[]; onChange: (next: Preset[]) => void }) {
  const { t, formatDateTime } = useI18n();
  const summary = usePresetSummary();
  const [editing, setEditing] = useState<{ id: string; name: string } | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ id: string; error: unknown } | null>(null);
  const [local, setLocal] = useState<string>('');
  const [done, setDone] = useState('');

  const rename = async (e: FormEvent, p: Preset) => {
    e.preventDefault();
    if (!editing) return;
    const bad = checkPresetName(editing.name);
    if (bad) return setLocal(t(`preset.name.${bad}` as const, { max: PRESET_NAME_MAX }));
    setLocal('');
    if (editing.name.trim() === p.name) return setEditing(null);
    setBusy(true);
    setError(null);
    try {
      const next = await api.updatePreset(p.id, { name: editing.name.trim() });
      onChange(upsertPreset(items, next));
      setEditing(null);
      setDone(t('preset.renamed', { name: next.name }));
    } catch (err) {
      setError({ id: p.id, error: err });
    } finally {
      setBusy(false);
    }
  };

  const remove = async (p: Preset) => {
    setBusy(true);
    setError(null);
    try {
      await api.deletePreset(p.id);
      onChange(removePreset(items, p.id));
      setConfirming(null);
      setDone(t('preset.deleted', { name: p.name }));
    } catch (err) {
      setError({ id: p.id, error: err });
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="preset-list-wrap">
      {done && <Notice kind="success">{done}</Notice>}
      {items.length === 0 ? (
        <p className="muted">{t('preset.empty')}</p>
      ) : (
        <ul className="preset-list" data-testid="preset-list">
          {items.map((p) => {
            const isEditing = editing?.id === p.id;
            return (
              <li key={p.id} className="preset-item" data-testid="preset-item">
                {isEditing ? (
                  <form className="preset-rename" onSubmit={(e) => void rename(e, p)}>
                    <input
                      className="input"
                      aria-label={t('preset.newName', { name: p.name })}
                      value={editing.name}
                      maxLength={PRESET_NAME_MAX + 20}
                      aria-invalid={local ? true : undefined}
                      autoFocus
                      onChange={(e) => setEditing({ id: p.id, name: e.target.value })}
                      onKeyDown={(e) => {
                        if (e.key === 'Escape') {
                          e.preventDefault();
                          e.stopPropagation();
                          setEditing(null);
                          setLocal('');
                        }
                      }}
                    />
                    <div className="cell-actions">
                      <button type="submit" className="btn btn-small btn-primary" disabled={busy}>
                        {t('common.save')}
                      </button>
                      <button
                        type="button"
                        className="btn btn-small btn-ghost"
                        onClick={() => {
                          setEditing(null);
                          setLocal('');
                        }}
                      >
                        {t('common.cancel')}
                      </button>
                    </div>
                    {local && (
                      <p className="field-error" role="alert">
                        {local}
                      </p>
                    )}
                  </form>
                ) : (
                  <div className="preset-item-main">
                    <strong className="preset-item-name">{p.name}</strong>
                    <span className="muted small">{summary(p.settings)}</span>
                    <span className="muted small">{t('preset.updatedAt', { time: formatDateTime(p.updated_at) })}</span>
                  </div>
                )}
                {!isEditing && (
                  <div className="cell-actions">
                    {confirming === p.id ? (
                      <>
                        <button type="button" className="btn btn-small btn-danger" disabled={busy} onClick={() => void remove(p)}>
                          {t('preset.deleteConfirm')}
                        </button>
                        <button type="button" className="btn btn-small btn-ghost" onClick={() => setConfirming(null)}>
                          {t('common.cancel')}
                        </button>
                      </>
                    ) : (
                      <>
                        <button
                          type="button"
                          className="btn btn-small"
                          aria-label={t('preset.renameNamed', { name: p.name })}
                          onClick={() => {
                            setEditing({ id: p.id, name: p.name });
                            setConfirming(null);
                            setError(null);
                            setDone('');
                          }}
                        >
                          {t('preset.rename')}
                        </button>
                        <button
                          type="button"
                          className="btn btn-small btn-danger-outline"
                          aria-label={t('preset.deleteNamed', { name: p.name })}
                          onClick={() => {
                            setConfirming(p.id);
                            setEditing(null);
                            setError(null);
                            setDone('');
                          }}
                        >
                          {t('preset.delete')}
                        </button>
                      </>
                    )}
                  </div>
                )}
                {error?.id === p.id && (
                  <div className="preset-item-error">
                    <ErrorNote error={error.error} />
                  </div>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
