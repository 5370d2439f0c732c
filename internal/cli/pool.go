package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"strings"

	pooldata "github.com/ludeng/ludeng/data/pool"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/pool"
	"github.com/ludeng/ludeng/internal/poolsync"
	"github.com/ludeng/ludeng/internal/store"
)

// cmdPool implements `ludeng pool validate|audit|import|export [DIR]`.
func cmdPool(ctx context.Context, args []string, stdio IO) error {
	if len(args) == 0 {
		return usageErr("pool needs a subcommand: validate [DIR], audit [DIR], import [DIR], export DIR")
	}
	sub, args := args[0], args[1:]
	fset, load := newFlags("pool "+sub, stdio)
	note := fset.String("note", "", "import: a note stored with the version")
	plans := fset.Int("plans", 500, "audit: number of smart batches of 12 groups to plan")
	seed := fset.Int64("seed", 1, "audit: seed of the plans and their filters")
	asJSON := fset.Bool("json", false, "audit: print the report as JSON")
	if err := fset.Parse(args); err != nil {
		return &exitError{code: 2, err: err}
	}
	dir := ""
	if fset.NArg() > 1 {
		return usageErr("pool %s takes at most one directory", sub)
	}
	if fset.NArg() == 1 {
		dir = fset.Arg(0)
	}
	var src fs.FS = pooldata.FS()
	if dir != "" {
		src = os.DirFS(dir)
	}
	switch sub {
	case "validate":
		p, problems := pool.ValidateFS(src, pool.DefaultMinimums())
		if len(problems) > 0 {
			for _, line := range problems.Strings() {
				fmt.Fprintln(stdio.Stdout, line)
			}
			return &exitError{code: 1, err: fmt.Errorf("pool validate: %d problem(s)", len(problems))}
		}
		fmt.Fprintf(stdio.Stdout, "ok: %s\nversion %s\n", p.Counts(), p.ComputeVersion())
		return nil
	case "audit":
		return poolAudit(ctx, src, *plans, *seed, *asJSON, stdio)
	case "import", "export":
	default:
		return usageErr("unknown pool subcommand %q (validate|audit|import|export)", sub)
	}
	_, logger, db, err := openCmdDB(ctx, load, stdio)
	if err != nil {
		return err
	}
	defer db.Close()
	m := poolsync.New(db, logger)
	if sub == "import" {
		from := dir
		if from == "" {
			from = "embedded pool"
		}
		v, created, err := m.Import(ctx, src, "cli", strings.TrimSpace(*note))
		if err != nil {
			if ps := pool.ProblemsOf(err); len(ps) > 0 {
				for _, line := range ps.Strings() {
					fmt.Fprintln(stdio.Stdout, line)
				}
			}
			return fmt.Errorf("pool import: %w", describe(err))
		}
		if created {
			fmt.Fprintf(stdio.Stdout, "imported %s as version %d (%s)\n", from, v.Number, v.Hash)
		} else {
			fmt.Fprintf(stdio.Stdout, "unchanged: %s equals version %d (%s)\n", from, v.Number, v.Hash)
		}
		fmt.Fprintln(stdio.Stdout, "running servers pick it up within a minute, on SIGHUP or POST /api/v1/admin/pool/reload")
		return nil
	}
	if dir == "" {
		return usageErr("pool export needs a target directory")
	}
	v, err := db.LatestPoolVersion(ctx)
	if err == store.ErrNotFound {
		return fmt.Errorf("pool export: the database holds no pool yet (run `ludeng pool import` or start the server)")
	}
	if err != nil {
		return err
	}
	p, err := pool.Decode(v.Content)
	if err != nil {
		return err
	}
	if err := pool.WriteDir(p, dir); err != nil {
		return fmt.Errorf("pool export: %w", err)
	}
	fmt.Fprintf(stdio.Stdout, "exported version %d (%s) to %s\n", v.Number, v.Hash, dir)
	return nil
}

// poolAudit implements `ludeng pool audit`: validate, then plan and check
// (plan.Planner.Audit). Exit status 1 on any problem or violation.
func poolAudit(ctx context.Context, src fs.FS, plans int, seed int64, asJSON bool, stdio IO) error {
	if plans < 0 || seed < 0 || seed >= plan.MaxSeed {
		return usageErr("pool audit: --plans must be ≥ 0 and 0 ≤ --seed < 2^53")
	}
	p, problems := pool.ValidateFS(src, pool.DefaultMinimums())
	if len(problems) > 0 {
		for _, line := range problems.Strings() {
			fmt.Fprintln(stdio.Stdout, line)
		}
		return &exitError{code: 1, err: fmt.Errorf("pool audit: the pool does not validate (%d problem(s))", len(problems))}
	}
	snap, err := pool.NewSnapshot(p)
	if err != nil {
		return err
	}
	planner, err := plan.New(plan.Config{}, nil)
	if err != nil {
		return err
	}
	rep, err := planner.Audit(ctx, snap, plan.AuditOptions{Plans: plans, Seed: seed})
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdio.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdio.Stdout, "pool %s\n%d plans (%d planned, %d infeasible), %d groups, %d prompts\n",
			rep.PoolVersion, rep.Plans, rep.Planned, rep.Infeasible, rep.Groups, rep.Prompts)
		fmt.Fprintf(stdio.Stdout, "English prompt length: p50 %d, p95 %d (limit %d), max %d (limit %d) characters\n",
			rep.PromptP50, rep.PromptP95, plan.MaxPromptChars, rep.PromptMax, plan.HardMaxPromptChars)
		fmt.Fprintf(stdio.Stdout, "violations: %d\n", len(rep.Violations))
		for _, r := range rep.SortedRules() {
			fmt.Fprintf(stdio.Stdout, "  %-14s %d\n", r, rep.ByRule[r])
		}
		const show = 50
		for i, v := range rep.Violations {
			if i == show {
				fmt.Fprintf(stdio.Stdout, "… %d more (use --json for all)\n", len(rep.Violations)-show)
				break
			}
			fmt.Fprintf(stdio.Stdout, "%s: %s: %s\n", v.Rule, v.Where, v.Detail)
		}
	}
	if len(rep.Violations) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("pool audit: %d violation(s)", len(rep.Violations))}
	}
	return nil
}
