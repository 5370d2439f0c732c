import { describe, expect, it } from 'vitest';
import { en, zhCN } from '../i18n/messages';
import { formatMoney, splitDuration } from '../format';
import { historyQuery, sumByDay } from './history';
import { elementNames, explainProblem } from './problem';
import { buildRequest, clampGroups, defaultManual, defaultOutput, defaultSmart, normalizeBudget, requestKey } from './request';

describe('buildRequest', () => {
  it('makes a smart body with sorted filters and no empty ones', () => {
    const r = buildRequest('smart', 'u1', { ...defaultSmart, groups: 2, provinces: ['440000', '130000'], months: [7, 1, 7] }, defaultManual(), defaultOutput);
    expect(r.blocked).toEqual([]);
    expect(r.body).toEqual({
      upload_id: 'u1',
      mode: 'smart',
      aspect: '3:4',
      resolution: 1024,
      enhance: 'balanced',
      groups: 2,
      allow_same_province: false,
      filters: { provinces: ['130000', '440000'], months: [1, 7] },
    });
  });

  it('sends a budget cap and a non-default priority', () => {
    const r = buildRequest('smart', 'u1', defaultSmart, defaultManual(), { ...defaultOutput, budget: ' 12,5 ', priority: 'low' });
    expect(r.body).toMatchObject({ budget: '12.5', priority: 'low' });
    expect(r.body).not.toHaveProperty('filters');
  });

  it('blocks without an upload and with a bad budget', () => {
    const r = buildRequest('smart', null, defaultSmart, defaultManual(), { ...defaultOutput, budget: '-3' });
    expect(r.body).toBeNull();
    expect(r.blocked).toEqual(['needUpload', 'badBudget']);
  });

  it('makes a manual body and names what is missing', () => {
    const empty = buildRequest('manual', 'u1', defaultSmart, defaultManual(new Date(2026, 6, 1)), defaultOutput);
    expect(empty.blocked).toEqual(['needCounty', 'needRoad', 'needElements']);
    const r = buildRequest(
      'manual',
      'u1',
      defaultSmart,
      { province: '130000', county: '130503', month: 7, road: 'dirt', elements: ['tricycle', 'old_man_cane'] },
      defaultOutput,
    );
    expect(r.body).toMatchObject({ mode: 'manual', manual: { county: '130503', month: 7, road: 'dirt', elements: ['old_man_cane', 'tricycle'] } });
    expect(r.body).not.toHaveProperty('groups');
    expect(r.body!.manual).not.toHaveProperty('province');
  });

  it('keys requests without seed and dry_run', () => {
    const a = buildRequest('smart', 'u1', defaultSmart, defaultManual(), defaultOutput).body!;
    expect(requestKey({ ...a, seed: 5, dry_run: true })).toBe(requestKey(a));
    expect(requestKey({ ...a, groups: 3 })).not.toBe(requestKey(a));
    expect(requestKey(null)).toBe('');
  });

  it('clamps the group count', () => {
    expect(clampGroups(0)).toBe(1);
    expect(clampGroups(13)).toBe(12);
    expect(clampGroups(Number.NaN)).toBe(1);
    expect(clampGroups(4.6)).toBe(5);
    expect(clampGroups(9, 6)).toBe(6);
  });

  it('normalizes budgets', () => {
    expect(normalizeBudget('')).toBe('');
    expect(normalizeBudget('¥20')).toBe('20');
    expect(normalizeBudget('.5')).toBe('0.5');
    expect(normalizeBudget('0')).toBeNull();
    expect(normalizeBudget('1.1234567')).toBeNull();
    expect(normalizeBudget('abc')).toBeNull();
    expect(normalizeBudget('.')).toBeNull();
  });
});

describe('explainProblem', () => {
  it('reads a 402 budget_exceeded', () => {
    const ex = explainProblem({ code: 'budget_exceeded', status: 402, params: { budget: 'daily', estimate: '1.28', remaining: '0.50' } });
    expect(ex.kind).toBe('budget');
    expect(ex.facts).toEqual([
      { key: 'batch.problem.budget.daily' },
      { key: 'batch.problem.estimate', params: { amount: '1.28' } },
      { key: 'batch.problem.remaining', params: { amount: '0.50' } },
    ]);
  });

  it('reads a 422 plan_infeasible: binding constraint, counts and suggestions', () => {
    const ex = explainProblem({
      code: 'plan_infeasible',
      status: 422,
      params: { binding: 'same_province', found: 1, requested: 12, suggestions: ['allow_same_province', 'widen_filters', 'fewer_groups', 'made_up'] },
    });
    expect(ex.kind).toBe('infeasible');
    expect(ex.facts).toEqual([{ key: 'batch.problem.binding.same_province' }, { key: 'batch.problem.found', params: { found: 1, requested: 12 } }]);
    expect(ex.suggestions).toEqual(['allow_same_province', 'widen_filters', 'fewer_groups']);
    expect(ex.found).toBe(1);
  });

  it('drops fewer_groups when nothing can be planned, and shows unknown bindings raw', () => {
    const ex = explainProblem({ code: 'plan_infeasible', params: { binding: 'new_rule', found: 0, requested: 2, suggestions: ['fewer_groups', 'widen_filters'] } });
    expect(ex.suggestions).toEqual(['widen_filters']);
    expect(ex.facts[0]).toEqual({ key: 'batch.problem.bindingRaw', params: { binding: 'new_rule' } });
  });

  it('offers archiving for history conflicts (manual and rerun)', () => {
    expect(explainProblem({ code: 'plan_near_history', params: { dimension: 'road', created_at: '2026-01-01T00:00:00Z' } })).toMatchObject({
      kind: 'history',
      facts: [{ key: 'batch.problem.nearDimension', params: { dimension: 'road' } }, { key: 'batch.problem.earlierAt' }],
      suggestions: ['archive_history'],
    });
    expect(explainProblem({ code: 'something', params: { hint: 'archive_history' } }).suggestions).toEqual(['archive_history']);
  });

  it('lists unfit elements and knows nothing of other codes', () => {
    const ex = explainProblem({ code: 'plan_element_unfit', params: { unfit: [{ element: 'ox_plough', reasons: [{ rule: 'month', detail: 'not in January' }] }] } });
    // Translated by rule, never the English detail.
    expect(ex.facts).toEqual([{ key: 'batch.problem.unfit_month', params: { element: 'ox_plough' } }]);
    elementNames.set('snowman', '雪人');
    const two = explainProblem({ code: 'plan_element_unfit', params: { unfit: [{ element: 'snowman', reasons: [{ rule: 'month' }, { rule: 'road' }] }] } });
    expect(two.facts).toEqual([
      { key: 'batch.problem.unfit_month', params: { element: '雪人' } },
      { key: 'batch.problem.unfit_road', params: { element: '雪人' } },
    ]);
    for (const f of two.facts) expect(Object.keys(en)).toContain(f.key);
    expect(explainProblem({ code: 'internal_error' })).toEqual({ kind: 'other', facts: [], suggestions: [] });
  });

  it('uses only message keys that exist in both languages', () => {
    const cases = [
      explainProblem({ code: 'budget_exceeded', params: { budget: 'batch', estimate: '1', remaining: '0' } }),
      explainProblem({ code: 'budget_exceeded', params: { budget: 'monthly' } }),
      ...['filters', 'plausibility', 'counties', 'same_province', 'history', 'same_county', 'min_dimensions', 'threshold'].map((binding) =>
        explainProblem({ code: 'plan_infeasible', params: { binding, found: 1, requested: 2, suggestions: ['allow_same_province', 'widen_filters', 'archive_history', 'fewer_groups'] } }),
      ),
      explainProblem({ code: 'plan_near_history', params: { dimension: 'road', created_at: 'x' } }),
    ];
    for (const ex of cases) {
      expect(Object.keys(zhCN)).toContain(`batch.problem.title.${ex.kind}`);
      for (const f of ex.facts) {
        expect(Object.keys(zhCN), f.key).toContain(f.key);
        expect(Object.keys(en), f.key).toContain(f.key);
      }
      for (const s of ex.suggestions) expect(Object.keys(zhCN)).toContain(`batch.suggest.${s}`);
    }
  });
});

describe('format', () => {
  it('formats money', () => {
    expect(formatMoney({ amount: '0.00', currency: 'CNY' })).toBe('¥0.00');
    expect(formatMoney({ amount: '1.5', currency: 'CNY' })).toBe('¥1.50');
    expect(formatMoney({ amount: '0.034', currency: 'USD' })).toBe('$0.034');
    expect(formatMoney({ amount: '2', currency: 'JPY' })).toBe('2.00 JPY');
    expect(formatMoney(undefined)).toBe('—');
  });

  it('splits durations', () => {
    expect(splitDuration(42)).toEqual({ unit: 'seconds', n: 42 });
    expect(splitDuration(150)).toEqual({ unit: 'minutes', n: 3 });
    expect(splitDuration(3 * 3600 + 20 * 60)).toEqual({ unit: 'hours', h: 3, m: 20 });
    expect(splitDuration(-5)).toEqual({ unit: 'seconds', n: 0 });
  });
});

describe('history helpers', () => {
  it('writes filters to the query string', () => {
    expect(historyQuery({ status: '', mode: '', q: '' })).toBe('');
    expect(historyQuery({ status: 'failed', mode: 'smart', q: '河北' })).toBe('?status=failed&mode=smart&q=%E6%B2%B3%E5%8C%97');
  });

  it('sums usage by day, newest first', () => {
    const rows = [
      { day: '2026-11-27', provider: 'gemini', cost: { amount: '0.30', currency: 'CNY' }, images: 1 },
      { day: '2026-11-28', provider: 'gemini', cost: { amount: '0.60', currency: 'CNY' }, images: 2 },
      { day: '2026-11-28', provider: 'openai', cost: { amount: '0.25', currency: 'CNY' }, images: 1 },
    ];
    const d = sumByDay(rows);
    expect(d.map((x) => x.day)).toEqual(['2026-11-28', '2026-11-27']);
    expect(d[0]).toMatchObject({ images: 3, providers: ['gemini', 'openai'] });
    expect(d[0].amount).toBeCloseTo(0.85);
  });
});
