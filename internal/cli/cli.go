// Package cli implements the ludeng command line: every subcommand of the one
// binary, sharing one configuration loader.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/ludeng/ludeng/internal/fault"
)

// Version is set at build time with -ldflags "-X github.com/ludeng/ludeng/internal/cli.Version=v1.2.3".
var Version = "dev"

// IO carries the process's standard streams and environment.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// exitError carries an exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

const usage = `ludeng — product photo to differentiated marketing scenes

Usage:
  ludeng [serve] [flags]                 run the HTTP service (default)
  ludeng migrate up|status               apply or list database migrations
  ludeng user add --name NAME [--admin] [--password P | --password-stdin]
  ludeng user passwd --name NAME         (reads the new password from stdin)
  ludeng user list
  ludeng user disable --name NAME
  ludeng user token --name NAME [--expires 90d]
  ludeng user budget --name NAME [--daily X] [--monthly Y]   set budgets ("none" removes)
  ludeng pool validate [DIR] | import [DIR] | export DIR
  ludeng pool audit [--plans N] [--seed S] [--json] [DIR]   plan N batches and check plausibility
  ludeng plan --user NAME --groups N [--seed S] [--json] …
  ludeng fake-providers [--listen ADDR]   serve fake Gemini/OpenRouter/OpenAI/kie/DeepSeek APIs (tests, demos)
  ludeng cleanup [--dry-run] [--json]   remove stale temp files, orphaned blobs, expired results
  ludeng smoke --url URL --user NAME --password-file F [--version V] [--batch auto|always|never]
                                         end-to-end check of a running server (deploy/ludeng-deploy)
  ludeng version

Common flags (each overrides its environment variable):
  --data-dir (LUDENG_DATA_DIR)  --listen (LUDENG_LISTEN)  --database-url (LUDENG_DATABASE_URL)
  --base-url (LUDENG_BASE_URL)  --log-level (LUDENG_LOG_LEVEL)  --log-format (LUDENG_LOG_FORMAT)
`

// Run executes args (without the program name) and returns the exit status:
// 0 success, 1 failure, 2 usage or configuration error.
func Run(ctx context.Context, args []string, stdio IO) int {
	err := run(ctx, args, stdio)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		for _, line := range strings.Split(ee.err.Error(), "\n") {
			fmt.Fprintln(stdio.Stderr, "ludeng: "+line)
		}
		return ee.code
	}
	fmt.Fprintln(stdio.Stderr, "ludeng: "+err.Error())
	return 1
}

func run(ctx context.Context, args []string, stdio IO) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return cmdServe(ctx, args, stdio)
	case "migrate":
		return cmdMigrate(ctx, args, stdio)
	case "user":
		return cmdUser(ctx, args, stdio)
	case "pool":
		return cmdPool(ctx, args, stdio)
	case "fake-providers":
		return cmdFakeProviders(ctx, args, stdio)
	case "cleanup":
		return cmdCleanup(ctx, args, stdio)
	case "plan":
		return cmdPlan(ctx, args, stdio)
	case "version":
		fmt.Fprintf(stdio.Stdout, "ludeng %s (%s)\n", Version, buildInfo())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdio.Stdout, usage)
		return nil
	}
	if fn, ok := extraCommands[cmd]; ok {
		return fn(ctx, args, stdio)
	}
	return usageErr("unknown command %q\n%s", cmd, usage)
}

// extraCommands are registered by later components (pool, plan, fake-providers, cleanup…).
var extraCommands = map[string]func(ctx context.Context, args []string, stdio IO) error{}

// newFlags returns a flag set with the common configuration flags, and a
// loader that applies them over the environment and validates the result.
func newFlags(name string, stdio IO) (*flag.FlagSet, func() (*Config, error)) {
	fs := flag.NewFlagSet("ludeng "+name, flag.ContinueOnError)
	fs.SetOutput(stdio.Stderr)
	overrides := map[string]*string{}
	for f, v := range flagVars {
		overrides[v] = fs.String(f, "", "overrides "+v)
	}
	load := func() (*Config, error) {
		getenv := func(k string) string {
			if p, ok := overrides[k]; ok && *p != "" {
				return *p
			}
			return stdio.Getenv(k)
		}
		c, err := loadConfig(getenv)
		if err != nil {
			return nil, &exitError{code: 2, err: err}
		}
		return c, nil
	}
	return fs, load
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return &exitError{code: 0, err: errors.New("help shown")}
		}
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return nil
}

func buildInfo() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown build"
	}
	rev, dirty, when := "", "", ""
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		case "vcs.time":
			when = s.Value
		}
	}
	if rev == "" {
		return bi.GoVersion
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return strings.TrimSpace(fmt.Sprintf("%s%s %s %s", rev, dirty, when, bi.GoVersion))
}

// Main is the binary's entry point.
func Main(ctx context.Context) int {
	return Run(ctx, os.Args[1:], IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
}

// describe renders an error for the CLI, preferring a fault's detail.
func describe(err error) error {
	if fe := fault.As(err); fe != nil && fe.Kind != fault.Internal {
		return errors.New(fe.Detail)
	}
	return err
}
