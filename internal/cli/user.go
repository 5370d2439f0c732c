package cli

import (
	"bufio"
	"context"
	"fmt"
	"github.com/ludeng/ludeng/internal/pipeline"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ludeng/ludeng/internal/auth"
	"github.com/ludeng/ludeng/internal/config"
	"github.com/ludeng/ludeng/internal/httpapi"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/ws"
	"github.com/ludeng/ludeng/internal/ws/pghub"
)

func cmdUser(ctx context.Context, args []string, stdio IO) error {
	if len(args) == 0 {
		return usageErr("user needs a subcommand: add, passwd, list, disable, token, budget")
	}
	sub, args := args[0], args[1:]
	fs, load := newFlags("user "+sub, stdio)
	name := fs.String("name", "", "username")
	var admin, pwStdin *bool
	var password, expires, daily, monthly *string
	switch sub {
	case "budget":
		daily = fs.String("daily", "", "daily budget in LUDENG_CURRENCY, e.g. 20 or 12.50 (\"none\" removes it; unset keeps it)")
		monthly = fs.String("monthly", "", "monthly budget (\"none\" removes it; unset keeps it)")
	case "add":
		admin = fs.Bool("admin", false, "give the admin role")
		password = fs.String("password", "", "password (prefer --password-stdin: arguments are visible in ps)")
		pwStdin = fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	case "token":
		expires = fs.String("expires", "", "lifetime such as 90d or 12h (default: no expiry)")
	case "passwd", "list", "disable":
	default:
		return usageErr("unknown user subcommand %q", sub)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if sub != "list" && *name == "" {
		return usageErr("user %s: --name is required", sub)
	}
	_, _, db, err := openCmdDB(ctx, load, stdio)
	if err != nil {
		return err
	}
	defer db.Close()
	audit := func(tx *store.Tx, action, id string, detail map[string]any) error {
		return db.Audit(ctx, tx, store.AuditEntry{ActorName: "cli", Action: action, TargetType: "user", TargetID: id, Detail: detail})
	}

	switch sub {
	case "add":
		if err := httpapi.ValidUsername(*name); err != nil {
			return usageErr("%v", describe(err))
		}
		pw := *password
		if *pwStdin {
			if pw, err = readLine(stdio); err != nil {
				return err
			}
		}
		generated := false
		if pw == "" {
			pw, generated = auth.RandomPassword(), true
		}
		if err := auth.ValidatePassword(pw); err != nil {
			return usageErr("%v", err)
		}
		hash, err := auth.Hash(pw, auth.DefaultParams)
		if err != nil {
			return err
		}
		role := store.RoleOperator
		if *admin {
			role = store.RoleAdmin
		}
		err = db.InTx(ctx, func(tx *store.Tx) error {
			u, err := db.CreateUser(ctx, tx, *name, hash, role)
			if err != nil {
				return err
			}
			return audit(tx, "user.create", u.ID, map[string]any{"username": *name, "role": role})
		})
		if err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdio.Stdout, "created %s user %s\n", role, *name)
		if generated {
			fmt.Fprintf(stdio.Stdout, "generated password:\n%s\n", pw)
		}
	case "passwd":
		pw, err := readLine(stdio)
		if err != nil {
			return err
		}
		if err := auth.ValidatePassword(pw); err != nil {
			return usageErr("%v", err)
		}
		u, err := db.UserByName(ctx, *name)
		if err != nil {
			return fmt.Errorf("user %q: %w", *name, describe(err))
		}
		hash, err := auth.Hash(pw, auth.DefaultParams)
		if err != nil {
			return err
		}
		err = db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := db.UpdateUser(ctx, tx, u.ID, store.UserUpdate{PasswordHash: &hash}); err != nil {
				return err
			}
			return audit(tx, "user.password_reset", u.ID, nil)
		})
		if err != nil {
			return err
		}
		notifyRights(ctx, db, u.ID, stdio)
		fmt.Fprintf(stdio.Stdout, "password changed for %s; their sessions and tokens were revoked\n", *name)
	case "list":
		users, err := db.ListUsers(ctx, "", 10000)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdio.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tROLE\tSTATUS\tCREATED")
		for _, u := range users {
			status := "active"
			if u.Disabled {
				status = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Username, u.Role, status, u.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	case "disable":
		u, err := db.UserByName(ctx, *name)
		if err != nil {
			return fmt.Errorf("user %q: %w", *name, describe(err))
		}
		yes := true
		err = db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := db.UpdateUser(ctx, tx, u.ID, store.UserUpdate{Disabled: &yes}); err != nil {
				return err
			}
			return audit(tx, "user.disable", u.ID, nil)
		})
		if err != nil {
			return err
		}
		notifyRights(ctx, db, u.ID, stdio)
		fmt.Fprintf(stdio.Stdout, "disabled %s; their sessions and tokens were revoked\n", *name)
	case "budget":
		u, err := db.UserByName(ctx, *name)
		if err != nil {
			return fmt.Errorf("user %q: %w", *name, describe(err))
		}
		var upd store.UserUpdate
		parse := func(flag, v string) (**int64, error) {
			if v == "" {
				return nil, nil
			}
			var m *int64
			if v != "none" {
				x, err := pipeline.ParseMoney(v)
				if err != nil {
					return nil, usageErr("--%s: not a decimal amount such as 20 or 12.50: %q", flag, v)
				}
				m = &x
			}
			return &m, nil
		}
		if upd.DailyBudget, err = parse("daily", *daily); err != nil {
			return err
		}
		if upd.MonthBudget, err = parse("monthly", *monthly); err != nil {
			return err
		}
		err = db.InTx(ctx, func(tx *store.Tx) error {
			nu, err := db.UpdateUser(ctx, tx, u.ID, upd)
			if err != nil {
				return err
			}
			u = nu
			return audit(tx, "user.budget", u.ID, map[string]any{"daily": *daily, "monthly": *monthly})
		})
		if err != nil {
			return err
		}
		show := func(m *int64) string {
			if m == nil {
				return "none"
			}
			return pipeline.FormatMoney(*m)
		}
		fmt.Fprintf(stdio.Stdout, "budget of %s: daily %s, monthly %s\n", *name, show(u.DailyBudgetMicros), show(u.MonthlyBudgetMicros))
	case "token":
		u, err := db.UserByName(ctx, *name)
		if err != nil {
			return fmt.Errorf("user %q: %w", *name, describe(err))
		}
		var exp *time.Time
		if *expires != "" {
			d, err := config.ParseDuration(*expires)
			if err != nil || d <= 0 {
				return usageErr("--expires: not a positive duration such as 90d: %q", *expires)
			}
			t := time.Now().Add(d).UTC()
			exp = &t
		}
		token, prefix := auth.NewAPIToken()
		err = db.InTx(ctx, func(tx *store.Tx) error {
			t, err := db.CreateAPIToken(ctx, tx, u.ID, "cli "+time.Now().UTC().Format("2006-01-02"), auth.TokenHash(token), prefix, exp)
			if err != nil {
				return err
			}
			return db.Audit(ctx, tx, store.AuditEntry{ActorName: "cli", Action: "token.create", TargetType: "api_token", TargetID: t.ID})
		})
		if err != nil {
			return err
		}
		if exp != nil {
			fmt.Fprintf(stdio.Stdout, "token for %s, expires %s:\n", *name, exp.Format(time.RFC3339))
		} else {
			fmt.Fprintf(stdio.Stdout, "token for %s (no expiry):\n", *name)
		}
		// Scripts read the token from the last line.
		fmt.Fprintln(stdio.Stdout, token)
	}
	return nil
}

// notifyRights tells the running nodes that userID's credentials changed, so
// their open WebSockets re-check and close. Only PostgreSQL reaches them (the
// event hub's NOTIFY channel); on SQLite the sockets find out on their next
// subscribe or at their lifetime limit.
func notifyRights(ctx context.Context, db *store.DB, userID string, stdio IO) {
	if db.PG == nil {
		return
	}
	if _, err := db.PG.Exec(ctx, "SELECT pg_notify($1, $2)", pghub.Channel, pghub.Payload(ws.RightsKey(userID), 0)); err != nil {
		fmt.Fprintf(stdio.Stderr, "warning: could not tell running nodes to close the user's live connections: %v\n", err)
	}
}

func readLine(stdio IO) (string, error) {
	line, err := bufio.NewReader(stdio.Stdin).ReadString('\n')
	line = strings.TrimRight(line, "\r\n")
	if line == "" && err != nil {
		return "", usageErr("expected a password on stdin")
	}
	return line, nil
}

func cmdMigrate(ctx context.Context, args []string, stdio IO) error {
	sub := "up"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	fs, load := newFlags("migrate "+sub, stdio)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if sub != "up" && sub != "status" {
		return usageErr("migrate: unknown subcommand %q (up|status)", sub)
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	logger := cfg.newLogger(stdio.Stderr)
	db, err := store.Open(ctx, store.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, Logger: logger})
	if err != nil {
		return err
	}
	defer db.Close()
	if sub == "up" {
		n, err := db.Migrate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdio.Stdout, "applied %d migration(s)\n", n)
		rn, err := pipeline.Migrate(ctx, db)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdio.Stdout, "applied %d River migration(s)\n", rn)
	}
	ms, err := db.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdio.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED")
	for _, m := range ms {
		at := "pending"
		if m.Applied {
			at = time.UnixMicro(m.AppliedAt).UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", m.Version, m.Name, at)
	}
	return tw.Flush()
}
