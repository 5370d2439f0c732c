package cli

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	pooldata "github.com/ludeng/ludeng/data/pool"
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/poolsync"
	"github.com/ludeng/ludeng/internal/store"
)

const planUsage = `Usage:
  ludeng plan --user NAME --groups N [--seed S] [--province CODE]… [--month M]… [--road SLUG]…
              [--category ID]… [--allow-same-province] [--record] [--json]
  ludeng plan --user NAME --manual --county CODE|NAME --month M --road SLUG --element SLUG [--element SLUG]…
              [--record] [--json]

Plans combinations against NAME's history without generating anything.
--record stores the plan in the user's history as used. Planner settings
come from LUDENG_PLAN_* (docs/planner.md).
`

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// intList is a repeatable integer flag.
type intList []int

func (l *intList) String() string {
	parts := make([]string, len(*l))
	for i, v := range *l {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, ",")
}

func (l *intList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return fmt.Errorf("not an integer: %q", p)
		}
		*l = append(*l, n)
	}
	return nil
}

func cmdPlan(ctx context.Context, args []string, stdio IO) error {
	fs, load := newFlags("plan", stdio)
	fs.Usage = func() { fmt.Fprint(stdio.Stderr, planUsage) }
	user := fs.String("user", "", "username whose history the plan avoids (required)")
	groups := fs.Int("groups", 8, "smart mode: number of groups, 1-12")
	seed := fs.Int64("seed", -1, "smart mode: seed, 0 ≤ S < 2^53 (default: random, printed in the plan)")
	var provinces, roads, categories, elements stringList
	var months intList
	fs.Var(&provinces, "province", "smart mode: allowed province code (repeatable)")
	fs.Var(&months, "month", "month 1-12 (manual: exactly one; smart: allowed months, repeatable)")
	fs.Var(&roads, "road", "road surface (manual: exactly one; smart: allowed roads, repeatable)")
	fs.Var(&categories, "category", "smart mode: allowed scene element category (repeatable)")
	allowSame := fs.Bool("allow-same-province", false, "smart mode: allow another county of an already used province")
	manual := fs.Bool("manual", false, "manual mode: validate one exact combination")
	county := fs.String("county", "", "manual mode: county code, old code or name")
	fs.Var(&elements, "element", "manual mode: scene element id (repeatable)")
	record := fs.Bool("record", false, "store the plan in the user's history as used")
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *user == "" {
		return usageErr("plan: --user is required\n%s", planUsage)
	}
	if *manual {
		switch {
		case len(provinces)+len(categories) > 0 || *allowSame:
			return usageErr("plan --manual: --province, --category and --allow-same-province are smart-mode flags")
		case *county == "":
			return usageErr("plan --manual: --county is required")
		case len(months) != 1:
			return usageErr("plan --manual: exactly one --month is required")
		case len(roads) != 1:
			return usageErr("plan --manual: exactly one --road is required")
		case len(elements) == 0:
			return usageErr("plan --manual: at least one --element is required")
		}
	} else if *county != "" || len(elements) > 0 {
		return usageErr("plan: --county and --element need --manual")
	}

	cfg, logger, db, err := openCmdDB(ctx, load, stdio)
	if err != nil {
		return err
	}
	defer db.Close()
	planCfg := cfg.Plan
	// Plan against the pool version the servers use (the newest stored
	// one; the embedded pool is imported first on an empty database).
	pm := poolsync.New(db, logger)
	if err := pm.Start(ctx, pooldata.FS()); err != nil {
		return fmt.Errorf("element pool: %w", err)
	}
	snap := pm.Current()
	u, err := db.UserByName(ctx, *user)
	if err != nil {
		return fmt.Errorf("user %q: %w", *user, describe(err))
	}
	planner, err := plan.New(planCfg, db)
	if err != nil {
		return &exitError{code: 2, err: err}
	}

	var p *plan.Plan
	if *manual {
		p, err = planner.Manual(ctx, snap, plan.ManualRequest{
			UserID: u.ID, County: *county, Month: months[0], Road: roads[0], Elements: elements,
		})
	} else {
		s := *seed
		if s < 0 {
			s = randomSeed()
		}
		p, err = planner.Smart(ctx, snap, plan.SmartRequest{
			UserID: u.ID, Groups: *groups, Seed: s, AllowSameProvince: *allowSame,
			Filters: plan.Filters{Provinces: provinces, Months: months, Roads: roads, ElementCategories: categories},
		})
	}
	if err != nil {
		if *asJSON {
			writeFaultJSON(stdio, err)
		}
		return describe(err)
	}

	if *record {
		items := make([]store.HistoryInsert, len(p.Groups))
		for i, g := range p.Groups {
			items[i] = store.HistoryInsert{Combination: g.Combination, PoolVersion: p.PoolVersion}
		}
		err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := db.InsertHistory(ctx, tx, u.ID, plan.StateUsed, items)
			return err
		})
		if err != nil {
			return fmt.Errorf("record plan: %w", describe(err))
		}
		fmt.Fprintf(stdio.Stderr, "recorded %d groups in the history of %s\n", len(items), *user)
	}

	if *asJSON {
		enc := json.NewEncoder(stdio.Stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	return printPlan(stdio, p)
}

// randomSeed is a random seed < 2^53 (JSON-safe).
func randomSeed() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return int64(binary.LittleEndian.Uint64(b[:]) % plan.MaxSeed)
}

// writeFaultJSON prints a classified error as JSON on stdout, so that
// scripts using --json can read the code and params.
func writeFaultJSON(stdio IO, err error) {
	fe := fault.As(err)
	if fe == nil || fe.Kind == fault.Internal {
		return
	}
	enc := json.NewEncoder(stdio.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(map[string]any{"error": map[string]any{"code": fe.Code, "detail": fe.Detail, "params": fe.Params}})
}

func printPlan(stdio IO, p *plan.Plan) error {
	short := func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	}
	fmt.Fprintf(stdio.Stdout, "%s plan, %d groups, seed %d, pool %s, config %s\n",
		p.Mode, len(p.Groups), p.Seed, short(p.PoolVersion), short(p.ConfigHash))
	tw := tabwriter.NewWriter(stdio.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tCODE\tMONTH\tSEASON\tZONE\tROAD\tMIN DIST\tELEMENTS\tCOUNTY")
	for _, g := range p.Groups {
		c := g.Combination
		min := "-"
		if g.MinDistance != nil {
			min = strconv.FormatFloat(*g.MinDistance, 'f', 3, 64)
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s%s%s\n", g.Index+1, c.CountyCode, c.Month, g.Scene.Season,
			g.Scene.Zone, c.Road, min, strings.Join(c.Elements, "+"), g.Scene.Province, g.Scene.Prefecture, g.Scene.County)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdio.Stdout, "(prompts and keys: --json)")
	return nil
}
