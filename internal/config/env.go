// Package config reads ludeng's configuration from the environment.
//
// Every component owns a typed Config; this package only offers the reader
// (Env) that turns LUDENG_* variables into typed values and collects one error
// per bad variable, so `serve` and every other subcommand validate the same way
// and exit 2 with a line naming the variable.
package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Env reads variables through Getenv (os.Getenv in production, a map in tests)
// and remembers the first problem of each variable.
type Env struct {
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
	errs     []error
}

// NewEnv returns an Env over getenv; secrets' _FILE variants are read with os.ReadFile.
func NewEnv(getenv func(string) string) *Env {
	return &Env{Getenv: getenv, ReadFile: os.ReadFile}
}

// VarError names the variable whose value is wrong.
type VarError struct {
	Name   string
	Reason string
}

func (e *VarError) Error() string { return e.Name + ": " + e.Reason }

// Fail records a problem with a variable.
func (e *Env) Fail(name, format string, args ...any) {
	e.errs = append(e.errs, &VarError{Name: name, Reason: fmt.Sprintf(format, args...)})
}

// Err returns all recorded problems joined, or nil.
func (e *Env) Err() error { return errors.Join(e.errs...) }

// Lookup returns the trimmed value and whether it was set non-empty.
func (e *Env) Lookup(name string) (string, bool) {
	v := strings.TrimSpace(e.Getenv(name))
	return v, v != ""
}

// String returns the value or def.
func (e *Env) String(name, def string) string {
	if v, ok := e.Lookup(name); ok {
		return v
	}
	return def
}

// OneOf returns the value, which must be one of allowed, or def.
func (e *Env) OneOf(name, def string, allowed ...string) string {
	v := e.String(name, def)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	e.Fail(name, "must be one of %s, got %q", strings.Join(allowed, "|"), v)
	return def
}

// Int returns an integer within [min, max], or def.
func (e *Env) Int(name string, def, min, max int) int {
	v, ok := e.Lookup(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		e.Fail(name, "not an integer: %q", v)
		return def
	}
	if n < min || n > max {
		e.Fail(name, "must be between %d and %d, got %d", min, max, n)
		return def
	}
	return n
}

// Float returns a float ≥ 0, or def.
func (e *Env) Float(name string, def float64) float64 {
	v, ok := e.Lookup(name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 {
		e.Fail(name, "not a non-negative number: %q", v)
		return def
	}
	return f
}

// Bool parses true/false/1/0/yes/no.
func (e *Env) Bool(name string, def bool) bool {
	v, ok := e.Lookup(name)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	}
	e.Fail(name, "not a boolean: %q", v)
	return def
}

// Duration parses a Go duration (also "90d" for days), which must be > 0.
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	v, ok := e.Lookup(name)
	if !ok {
		return def
	}
	d, err := ParseDuration(v)
	if err != nil || d <= 0 {
		e.Fail(name, "not a positive duration (e.g. 30s, 5m, 90d): %q", v)
		return def
	}
	return d
}

// ParseDuration is time.ParseDuration plus a whole-day suffix "d".
func ParseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("parse days %q: %w", s, err)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// Bytes parses a size such as 512MiB, 2GB, 1048576.
func (e *Env) Bytes(name string, def int64) int64 {
	v, ok := e.Lookup(name)
	if !ok {
		return def
	}
	n, err := ParseBytes(v)
	if err != nil {
		e.Fail(name, "not a size (e.g. 500MiB, 2GB): %q", v)
		return def
	}
	return n
}

// ParseBytes parses a non-negative byte size with an optional unit.
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(f * float64(mult)), nil
}

// Secret returns NAME, or the trimmed contents of the file named by NAME_FILE
// (systemd credentials). Setting both is an error. The value is never logged.
func (e *Env) Secret(name string) string {
	v, ok := e.Lookup(name)
	path, fok := e.Lookup(name + "_FILE")
	switch {
	case ok && fok:
		e.Fail(name, "set either %s or %s_FILE, not both", name, name)
		return ""
	case fok:
		b, err := e.ReadFile(path)
		if err != nil {
			e.Fail(name+"_FILE", "cannot read secret file: %v", errors.Unwrap(err))
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	return v
}

// List splits a comma-separated value, dropping empty items.
func (e *Env) List(name string) []string {
	v, ok := e.Lookup(name)
	if !ok {
		return nil
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
