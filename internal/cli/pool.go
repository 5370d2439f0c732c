package cli

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"strings"

	pooldata "github.com/ludeng/ludeng/data/pool"
	"github.com/ludeng/ludeng/internal/pool"
	"github.com/ludeng/ludeng/internal/poolsync"
	"github.com/ludeng/ludeng/internal/store"
)

// cmdPool implements `ludeng pool validate|import|export [DIR]`.
func cmdPool(ctx context.Context, args []string, stdio IO) error {
	if len(args) == 0 {
		return usageErr("pool needs a subcommand: validate [DIR], import [DIR], export DIR")
	}
	sub, args := args[0], args[1:]
	fset, load := newFlags("pool "+sub, stdio)
	note := fset.String("note", "", "import: a note stored with the version")
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
	case "import", "export":
	default:
		return usageErr("unknown pool subcommand %q (validate|import|export)", sub)
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
