// What the UI says about a refused batch (402 budget_exceeded, 422 plan_*):
// the facts carried in the problem's params, as message keys with their
// params, and the ways out the server suggests. Pure, unit tested.

import type { ProblemLike } from '../i18n';

export type Suggestion = 'allow_same_province' | 'widen_filters' | 'archive_history' | 'fewer_groups';

const SUGGESTIONS: readonly Suggestion[] = ['allow_same_province', 'widen_filters', 'archive_history', 'fewer_groups'];

/** Element id → display name, filled by the forms as element lists load. */
export const elementNames = new Map<string, string>();

export interface Fact {
  /** A message key (batch.problem.*). */
  key: string;
  params?: Record<string, unknown>;
}

export interface Explained {
  kind: 'budget' | 'infeasible' | 'history' | 'plan' | 'other';
  facts: Fact[];
  suggestions: Suggestion[];
  /** For fewer_groups: how many groups the pool admits. */
  found?: number;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

const BINDINGS = new Set(['filters', 'plausibility', 'counties', 'same_province', 'history', 'same_county', 'min_dimensions', 'threshold']);

/** explainProblem reads the params of a batch problem. Unknown codes give kind 'other' and no facts. */
export function explainProblem(p: ProblemLike): Explained {
  const params = p.params ?? {};
  switch (p.code) {
    case 'budget_exceeded': {
      const facts: Fact[] = [];
      const which = str(params.budget);
      if (which === 'batch' || which === 'daily' || which === 'monthly') facts.push({ key: `batch.problem.budget.${which}` });
      const estimate = str(params.estimate) ?? (num(params.estimate)?.toString());
      const remaining = str(params.remaining) ?? (num(params.remaining)?.toString());
      if (estimate !== undefined) facts.push({ key: 'batch.problem.estimate', params: { amount: estimate } });
      if (remaining !== undefined) facts.push({ key: 'batch.problem.remaining', params: { amount: remaining } });
      return { kind: 'budget', facts, suggestions: [] };
    }
    case 'plan_infeasible': {
      const facts: Fact[] = [];
      const binding = str(params.binding);
      if (binding) facts.push(BINDINGS.has(binding) ? { key: `batch.problem.binding.${binding}` } : { key: 'batch.problem.bindingRaw', params: { binding } });
      const found = num(params.found);
      const requested = num(params.requested);
      if (found !== undefined && requested !== undefined) facts.push({ key: 'batch.problem.found', params: { found, requested } });
      const suggestions = Array.isArray(params.suggestions)
        ? (params.suggestions.filter((s) => (SUGGESTIONS as readonly unknown[]).includes(s)) as Suggestion[])
        : [];
      return { kind: 'infeasible', facts, suggestions: found ? suggestions : suggestions.filter((s) => s !== 'fewer_groups'), found };
    }
    case 'plan_repeats_history':
    case 'plan_near_history': {
      const facts: Fact[] = [];
      const dim = str(params.dimension);
      if (p.code === 'plan_near_history' && dim) facts.push({ key: 'batch.problem.nearDimension', params: { dimension: dim } });
      const at = str(params.created_at);
      if (at) facts.push({ key: 'batch.problem.earlierAt', params: { at } });
      return { kind: 'history', facts, suggestions: ['archive_history'] };
    }
    case 'plan_element_unfit': {
      // One translated fact per broken rule; the element by its name when
      // the form has loaded it (never the raw id or the English detail).
      const unfit = Array.isArray(params.unfit) ? params.unfit : [];
      const facts: Fact[] = unfit.flatMap((u) => {
        if (!u || typeof u !== 'object') return [];
        const o = u as Record<string, unknown>;
        const id = str(o.element) ?? '?';
        const element = elementNames.get(id) ?? id;
        const rules = Array.isArray(o.reasons)
          ? o.reasons.map((r) => (r && typeof r === 'object' ? str((r as Record<string, unknown>).rule) : undefined)).filter((r): r is string => !!r)
          : [];
        const known = rules.filter((r) => ['zone', 'month', 'road', 'snow', 'fit'].includes(r));
        return (known.length ? known : ['fit']).map((r) => ({ key: `batch.problem.unfit_${r}`, params: { element } }));
      });
      return { kind: 'plan', facts, suggestions: [] };
    }
    default:
      if (p.params && str(params.hint) === 'archive_history') return { kind: 'history', facts: [], suggestions: ['archive_history'] };
      return { kind: p.code?.startsWith('plan_') ? 'plan' : 'other', facts: [], suggestions: [] };
  }
}
