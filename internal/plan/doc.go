// Package plan is ludeng's differentiation engine: it chooses the
// combinations (county, month, road surface, scene elements) of a batch so
// that every two groups look clearly different and nothing repeats the
// user's history, gives each group its four variants (time of day and
// weather) and builds the English and Chinese image prompts.
//
// Keys: a Combination has a canonical key string
// "v1|<county code>|<MM>|<road>|<element+element…>" and four leave-one-out
// keys with "*" in one field; two combinations differ in at most one
// dimension exactly when they share a leave-one-out key, so every history
// check is an indexed lookup (History) whatever the length of the history.
//
// Smart plans (Planner.Smart) are a seeded, reproducible search: the same
// seed, history, pool version and configuration give the same plan.
// Manual plans (Planner.Manual) validate one exact choice and never change
// it. Both return the Plan JSON shape shared by the CLI, the pipeline's dry
// run and the zip manifest. docs/planner.md documents the distance, the
// defaults and why, the search and the error format.
//
// The package imports no SQL or HTTP: the store implements History.
package plan
