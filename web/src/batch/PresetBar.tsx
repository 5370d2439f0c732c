import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, isApiError, type Preset } from '../api';
import { Dialog } from '../components/Dialog';
import { ErrorNote, Notice } from '../components/common';
import { PresetList, loadAllPresets, usePresetSummary } from '../components/PresetList';
import { useAsync } from '../hooks';
import { useI18n } from '../i18n/context';
import { PRESET_NAME_MAX, applyPreset, checkPresetName, findByName, presetSettings, settingsKey, upsertPreset, type FormState } from './preset';

/**
 * PresetBar sits above the new-batch form: pick a saved preset and apply it,
 * save the current settings under a name, and manage (rename, delete) the
 * presets in a dialog. The form itself stays the page's.
 */
export function PresetBar({
  form,
  onApply,
  groupsMax,
  isAdmin,
}: {
  form: FormState;
  onApply: (next: FormState) => void;
  groupsMax: number;
  isAdmin: boolean;
}) {
  const { t } = useI18n();
  const summary = usePresetSummary();
  const presets = useAsync(loadAllPresets, []);
  const list = presets.data ?? [];
  const [selected, setSelected] = useState('');
  const [applied, setApplied] = useState<{ id: string; name: string; key: string } | null>(null);
  const [notice, setNotice] = useState('');
  const [saveOpen, setSaveOpen] = useState(false);
  const [name, setName] = useState('');
  const [saving, setSaving] = useState(false);
  const [local, setLocal] = useState('');
  const [saveError, setSaveError] = useState<unknown>(null);
  const [conflict, setConflict] = useState<Preset | null>(null);
  const [manageOpen, setManageOpen] = useState(false);
  const saveBtn = useRef<HTMLButtonElement>(null);

  const setList = (next: Preset[]) => presets.setData(() => next);
  const chosen = list.find((p) => p.id === selected) ?? null;
  const appliedPreset = applied ? list.find((p) => p.id === applied.id) : undefined;
  const changed = applied !== null && settingsKey(form) !== applied.key;

  // A preset deleted in the dialog is no longer selected or applied.
  useEffect(() => {
    if (!presets.data) return;
    if (selected && !presets.data.some((p) => p.id === selected)) setSelected('');
    if (applied && !presets.data.some((p) => p.id === applied.id)) setApplied(null);
  }, [presets.data]);

  const apply = () => {
    if (!chosen) return;
    const next = applyPreset(chosen.settings, form, { groupsMax, isAdmin });
    onApply(next);
    setApplied({ id: chosen.id, name: chosen.name, key: settingsKey(next) });
    setNotice('');
  };

  const closeSave = () => {
    setSaveOpen(false);
    setLocal('');
    setSaveError(null);
    setConflict(null);
    window.requestAnimationFrame(() => saveBtn.current?.focus());
  };

  const saved = (p: Preset, message: string) => {
    setList(upsertPreset(list, p));
    setSelected(p.id);
    setApplied({ id: p.id, name: p.name, key: settingsKey(form) });
    setNotice(message);
    setName('');
    closeSave();
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setSaveError(null);
    setConflict(null);
    const bad = checkPresetName(name);
    if (bad) return setLocal(t(`preset.name.${bad}` as const, { max: PRESET_NAME_MAX }));
    const settings = presetSettings(form);
    if (!settings) return setLocal(t('new.blocked.badBudget'));
    setLocal('');
    setSaving(true);
    try {
      const p = await api.createPreset(name.trim(), settings);
      saved(p, t('preset.saved', { name: p.name }));
    } catch (err) {
      setSaveError(err);
      if (isApiError(err) && err.code === 'preset_name_taken') setConflict(findByName(list, name) ?? null);
    } finally {
      setSaving(false);
    }
  };

  const overwrite = async () => {
    const settings = presetSettings(form);
    if (!conflict || !settings) return;
    setSaving(true);
    try {
      const p = await api.updatePreset(conflict.id, { settings });
      saved(p, t('preset.overwritten', { name: p.name }));
    } catch (err) {
      setSaveError(err);
      setConflict(null);
    } finally {
      setSaving(false);
    }
  };

  return (
    <section className="card preset-bar" aria-labelledby="preset-bar-title" data-testid="preset-bar">
      <h2 id="preset-bar-title" className="sr-only">
        {t('preset.title')}
      </h2>
      <div className="preset-controls">
        <div className="field preset-select">
          <label className="label" htmlFor="preset-select">
            {t('preset.select')}
          </label>
          <select
            id="preset-select"
            className="input"
            value={selected}
            disabled={presets.loading && !presets.data}
            aria-describedby={chosen ? 'preset-select-summary' : undefined}
            onChange={(e) => setSelected(e.target.value)}
          >
            <option value="">{presets.loading && !presets.data ? t('app.loading') : list.length ? t('preset.selectPlaceholder') : t('preset.none')}</option>
            {list.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </div>
        <button type="button" className="btn" disabled={!chosen} onClick={apply}>
          {t('preset.apply')}
        </button>
        <div className="preset-controls-end">
          <button
            ref={saveBtn}
            type="button"
            className="btn"
            aria-expanded={saveOpen}
            aria-controls="preset-save-form"
            onClick={() => (saveOpen ? closeSave() : (setSaveOpen(true), setNotice('')))}
          >
            {t('preset.saveCurrent')}
          </button>
          <button type="button" className="btn btn-ghost" onClick={() => setManageOpen(true)} disabled={!presets.data}>
            {t('preset.manage')}
          </button>
        </div>
      </div>
      {chosen && (
        <p id="preset-select-summary" className="muted small preset-summary">
          {summary(chosen.settings)}
        </p>
      )}
      <div aria-live="polite">
        {applied && !saveOpen && !notice && (
          <p className="small preset-applied" data-testid="preset-applied">
            {t('preset.applied', { name: appliedPreset?.name ?? applied.name })}
            {changed && <span className="text-warn"> {t('preset.changed')}</span>}
          </p>
        )}
      </div>
      {notice && <Notice kind="success">{notice}</Notice>}
      {presets.error ? <ErrorNote error={presets.error} onRetry={presets.reload} /> : null}

      {saveOpen && (
        <form id="preset-save-form" className="form preset-save" onSubmit={(e) => void save(e)} noValidate>
          <div className="field">
            <label className="label" htmlFor="preset-name">
              {t('preset.name')}
            </label>
            <div className="row preset-save-row">
              <input
                id="preset-name"
                className="input"
                autoFocus
                autoComplete="off"
                maxLength={PRESET_NAME_MAX + 20}
                placeholder={t('preset.namePlaceholder')}
                value={name}
                aria-invalid={local || saveError ? true : undefined}
                aria-describedby="preset-name-hint"
                onChange={(e) => {
                  setName(e.target.value);
                  setLocal('');
                }}
                onKeyDown={(e) => {
                  if (e.key === 'Escape') closeSave();
                }}
              />
              <button type="submit" className="btn btn-primary" disabled={saving}>
                {saving ? t('preset.saving') : t('preset.save')}
              </button>
              <button type="button" className="btn btn-ghost" onClick={closeSave}>
                {t('common.cancel')}
              </button>
            </div>
            <p id="preset-name-hint" className="muted small">
              {t('preset.saveHint')}
            </p>
          </div>
          {local && (
            <p className="field-error" role="alert">
              {local}
            </p>
          )}
          <ErrorNote error={saveError} />
          {conflict && (
            <div>
              <button type="button" className="btn btn-small" disabled={saving} onClick={() => void overwrite()}>
                {t('preset.overwrite', { name: conflict.name })}
              </button>
            </div>
          )}
        </form>
      )}

      <Dialog open={manageOpen} title={t('preset.manage')} onClose={() => setManageOpen(false)}>
        <PresetList items={list} onChange={setList} />
      </Dialog>
    </section>
  );
}
