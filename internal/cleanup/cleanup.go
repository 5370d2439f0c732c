// Package cleanup reclaims disk space: stale temp files, blobs nothing
// references any more, and (optionally) generated results past their
// retention. `ludeng cleanup [--dry-run]` and the pipeline's periodic job
// both call Run.
//
// It is conservative by construction: it only deletes what it can prove is
// unneeded, never touches an unreferenced blob younger than OrphanMinAge
// (an upload being stored has a blob before its database row), re-checks a
// blob's age right before deleting it, and in DryRun mode deletes nothing
// while reporting exactly what it would delete.
package cleanup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/config"
)

// Defaults.
const (
	// DefaultTempMaxAge: a temp file older than a day belongs to no live
	// request (uploads finish in seconds, generations in minutes).
	DefaultTempMaxAge = 24 * time.Hour
	// DefaultOrphanMinAge: an unreferenced blob younger than this may be
	// an upload whose database row is being written.
	DefaultOrphanMinAge = time.Hour
)

// Options control one run. Zero durations take the defaults, except
// ResultRetention where 0 means "keep results forever".
type Options struct {
	// DryRun reports without deleting.
	DryRun bool `json:"dry_run"`
	// Now is the reference time (zero: time.Now()).
	Now time.Time `json:"now"`
	// TempMaxAge: temp files older than this are deleted. Env
	// LUDENG_CLEANUP_TEMP_MAX_AGE (default 24h).
	TempMaxAge time.Duration `json:"temp_max_age"`
	// OrphanMinAge: unreferenced blobs younger than this are kept. Env
	// LUDENG_CLEANUP_ORPHAN_MIN_AGE (default 1h).
	OrphanMinAge time.Duration `json:"orphan_min_age"`
	// ResultRetention: results older than this are deleted; 0 disables.
	// Env LUDENG_RESULT_RETENTION ("0" or "off" disables; e.g. "90d").
	ResultRetention time.Duration `json:"result_retention"`
}

// OptionsFromEnv reads the LUDENG_CLEANUP_* and LUDENG_RESULT_RETENTION
// variables (DryRun and Now are per run).
func OptionsFromEnv(env *config.Env) Options {
	o := Options{
		TempMaxAge:   env.Duration("LUDENG_CLEANUP_TEMP_MAX_AGE", DefaultTempMaxAge),
		OrphanMinAge: env.Duration("LUDENG_CLEANUP_ORPHAN_MIN_AGE", DefaultOrphanMinAge),
	}
	if v, ok := env.Lookup("LUDENG_RESULT_RETENTION"); ok && v != "0" && !strings.EqualFold(v, "off") {
		o.ResultRetention = env.Duration("LUDENG_RESULT_RETENTION", 0)
	}
	return o
}

// Store is what cleanup needs from a blob store.
type Store interface {
	List(ctx context.Context, prefix string) iter.Seq2[blob.Info, error]
	Stat(ctx context.Context, key string) (blob.Info, error)
	Delete(ctx context.Context, key string) error
}

// References answers whether stored content is still used. The store
// package implements it over the uploads table (and anything else that
// points at content hashes).
type References interface {
	// ContentReferenced reports whether any row references the SHA-256.
	ContentReferenced(ctx context.Context, sha256 string) (bool, error)
}

// Deps are the collaborators of Run.
type Deps struct {
	// Store holds blobs, variants and results.
	Store Store
	// Refs decides orphans; nil skips the orphan sweep (never guess).
	Refs References
	// TempDirs are swept for stale files (e.g. blob.Local.TempDir()).
	TempDirs []string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Counts tallies one category.
type Counts struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

func (c *Counts) add(size int64) {
	c.Files++
	c.Bytes += size
}

// Report says what a run deleted (or, in a dry run, would delete).
type Report struct {
	DryRun bool `json:"dry_run"`
	// TempFiles, OrphanBlobs and Results are what was (or would be) removed.
	TempFiles   Counts `json:"temp_files"`
	OrphanBlobs Counts `json:"orphan_blobs"`
	Results     Counts `json:"results"`
	// ExpiredBatches lists batch ids whose result files were removed, so
	// the caller can mark their images as expired in the database.
	ExpiredBatches []string `json:"expired_batches,omitempty"`
	// OrphansSkipped is true when no References were given.
	OrphansSkipped bool `json:"orphans_skipped,omitempty"`
	// Errors counts individual failures; the run continues past them.
	Errors int `json:"errors"`
	// Duration of the run.
	Duration time.Duration `json:"duration"`
}

// Total returns all removed files and bytes.
func (r Report) Total() Counts {
	return Counts{
		Files: r.TempFiles.Files + r.OrphanBlobs.Files + r.Results.Files,
		Bytes: r.TempFiles.Bytes + r.OrphanBlobs.Bytes + r.Results.Bytes,
	}
}

// maxErrors bounds the errors kept in the returned error.
const maxErrors = 10

// run holds one invocation's state.
type run struct {
	opts Options
	deps Deps
	log  *slog.Logger
	rep  Report
	errs []error
}

// Run performs one cleanup pass. It returns the report and, when anything
// failed, an error joining the first failures; the report is valid either
// way. Cancelling ctx stops the run between files.
func Run(ctx context.Context, opts Options, deps Deps) (Report, error) {
	start := time.Now()
	if opts.Now.IsZero() {
		opts.Now = start
	}
	opts.TempMaxAge = cmp.Or(opts.TempMaxAge, DefaultTempMaxAge)
	opts.OrphanMinAge = cmp.Or(opts.OrphanMinAge, DefaultOrphanMinAge)
	if deps.Store == nil {
		return Report{}, errors.New("cleanup: no store")
	}
	r := &run{opts: opts, deps: deps, log: cmp.Or(deps.Logger, slog.Default()), rep: Report{DryRun: opts.DryRun}}

	for _, dir := range deps.TempDirs {
		r.sweepTemp(ctx, dir)
	}
	if deps.Refs == nil {
		r.rep.OrphansSkipped = true
	} else {
		for _, prefix := range []string{blob.ContentPrefix, blob.VariantPrefix} {
			r.sweepOrphans(ctx, prefix)
		}
	}
	if opts.ResultRetention > 0 {
		r.sweepResults(ctx)
	}
	if err := ctx.Err(); err != nil {
		r.fail(err)
	}
	r.rep.Duration = time.Since(start)
	r.log.InfoContext(ctx, "cleanup finished",
		slog.Bool("dry_run", opts.DryRun),
		slog.Int("temp_files", r.rep.TempFiles.Files),
		slog.Int("orphan_blobs", r.rep.OrphanBlobs.Files),
		slog.Int("results", r.rep.Results.Files),
		slog.Int64("bytes", r.rep.Total().Bytes),
		slog.Int("errors", r.rep.Errors))
	if len(r.errs) > 0 {
		return r.rep, errors.Join(r.errs...)
	}
	return r.rep, nil
}

func (r *run) fail(err error) {
	r.rep.Errors++
	if len(r.errs) < maxErrors {
		r.errs = append(r.errs, err)
	}
}

// sweepTemp removes regular files older than TempMaxAge under dir.
func (r *run) sweepTemp(ctx context.Context, dir string) {
	cutoff := r.opts.Now.Add(-r.opts.TempMaxAge)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil // directories are walked; symlinks and devices are never touched
		}
		info, err := d.Info()
		if err != nil || !info.ModTime().Before(cutoff) {
			return nil
		}
		if !r.opts.DryRun {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				r.fail(fmt.Errorf("cleanup: remove temp %s: %w", p, err))
				return nil
			}
		}
		r.rep.TempFiles.add(info.Size())
		return nil
	})
	if err != nil {
		r.fail(fmt.Errorf("cleanup: walk %s: %w", dir, err))
	}
}

// sweepOrphans deletes content-addressed blobs and variants whose hash no
// longer has a reference, once they are older than OrphanMinAge.
func (r *run) sweepOrphans(ctx context.Context, prefix string) {
	cutoff := r.opts.Now.Add(-r.opts.OrphanMinAge)
	referenced := map[string]bool{} // per run: a variant shares its original's answer
	for info, err := range r.deps.Store.List(ctx, prefix) {
		if err != nil {
			r.fail(fmt.Errorf("cleanup: list %s: %w", prefix, err))
			return
		}
		if !info.ModTime.Before(cutoff) {
			continue
		}
		sum, ok := blob.ContentHash(info.Key)
		if ok {
			used, seen := referenced[sum]
			if !seen {
				var err error
				if used, err = r.deps.Refs.ContentReferenced(ctx, sum); err != nil {
					r.fail(fmt.Errorf("cleanup: check %s: %w", sum, err))
					continue
				}
				referenced[sum] = used
			}
			if used {
				continue
			}
		}
		// A key that is not a valid content key under these prefixes is
		// debris (a crashed tool, a hand copy): nothing can reference it.
		r.remove(ctx, info, cutoff, &r.rep.OrphanBlobs)
	}
}

// sweepResults deletes results older than the retention.
func (r *run) sweepResults(ctx context.Context) {
	cutoff := r.opts.Now.Add(-r.opts.ResultRetention)
	batches := map[string]bool{}
	for info, err := range r.deps.Store.List(ctx, blob.ResultPrefix) {
		if err != nil {
			r.fail(fmt.Errorf("cleanup: list results: %w", err))
			break
		}
		if !info.ModTime.Before(cutoff) {
			continue
		}
		if r.remove(ctx, info, cutoff, &r.rep.Results) {
			if rest, ok := strings.CutPrefix(info.Key, blob.ResultPrefix); ok {
				if batch, _, ok := strings.Cut(rest, "/"); ok {
					batches[batch] = true
				}
			}
		}
	}
	for b := range batches {
		r.rep.ExpiredBatches = append(r.rep.ExpiredBatches, b)
	}
	sort.Strings(r.rep.ExpiredBatches)
}

// remove deletes one blob after re-checking that it is still older than
// cutoff (it may have been rewritten or touched since it was listed).
func (r *run) remove(ctx context.Context, info blob.Info, cutoff time.Time, c *Counts) bool {
	if r.opts.DryRun {
		c.add(info.Size)
		return true
	}
	cur, err := r.deps.Store.Stat(ctx, info.Key)
	if errors.Is(err, blob.ErrNotFound) {
		return false
	}
	if err != nil {
		r.fail(fmt.Errorf("cleanup: stat %s: %w", info.Key, err))
		return false
	}
	if !cur.ModTime.Before(cutoff) {
		return false
	}
	if err := r.deps.Store.Delete(ctx, info.Key); err != nil {
		r.fail(fmt.Errorf("cleanup: delete %s: %w", info.Key, err))
		return false
	}
	c.add(cur.Size)
	return true
}
