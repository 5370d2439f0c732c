package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func envOf(m map[string]string) *Env { return NewEnv(func(k string) string { return m[k] }) }

func TestEnvValues(t *testing.T) {
	t.Parallel()
	e := envOf(map[string]string{
		"S": " value ", "I": "42", "F": "1.5", "B": "yes", "D": "90d", "D2": "250ms", "SZ": "512MiB", "SZ2": "2GB",
		"L": "a, b,,c ", "O": "json",
	})
	require.Equal(t, "value", e.String("S", "x"))
	require.Equal(t, "def", e.String("MISSING", "def"))
	require.Equal(t, 42, e.Int("I", 0, 0, 100))
	require.Equal(t, 1.5, e.Float("F", 0))
	require.True(t, e.Bool("B", false))
	require.Equal(t, 90*24*time.Hour, e.Duration("D", 0))
	require.Equal(t, 250*time.Millisecond, e.Duration("D2", 0))
	require.EqualValues(t, 512<<20, e.Bytes("SZ", 0))
	require.EqualValues(t, 2_000_000_000, e.Bytes("SZ2", 0))
	require.Equal(t, []string{"a", "b", "c"}, e.List("L"))
	require.Equal(t, "json", e.OneOf("O", "text", "json", "text"))
	require.NoError(t, e.Err())
}

func TestEnvErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, value string
		read        func(e *Env)
	}{
		{"LUDENG_I", "x", func(e *Env) { e.Int("LUDENG_I", 1, 0, 10) }},
		{"LUDENG_I", "11", func(e *Env) { e.Int("LUDENG_I", 1, 0, 10) }},
		{"LUDENG_F", "-1", func(e *Env) { e.Float("LUDENG_F", 1) }},
		{"LUDENG_B", "maybe", func(e *Env) { e.Bool("LUDENG_B", false) }},
		{"LUDENG_D", "soon", func(e *Env) { e.Duration("LUDENG_D", time.Second) }},
		{"LUDENG_D", "0s", func(e *Env) { e.Duration("LUDENG_D", time.Second) }},
		{"LUDENG_SZ", "lots", func(e *Env) { e.Bytes("LUDENG_SZ", 1) }},
		{"LUDENG_O", "xml", func(e *Env) { e.OneOf("LUDENG_O", "text", "json", "text") }},
	}
	for _, tc := range cases {
		e := envOf(map[string]string{tc.name: tc.value})
		tc.read(e)
		err := e.Err()
		require.Error(t, err, tc.name+"="+tc.value)
		var ve *VarError
		require.True(t, errors.As(err, &ve))
		require.Equal(t, tc.name, ve.Name)
		require.True(t, strings.HasPrefix(err.Error(), tc.name+": "), err.Error())
	}
}

func TestSecretFromFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "key")
	require.NoError(t, os.WriteFile(p, []byte("s3cret\n"), 0o600))
	e := envOf(map[string]string{"LUDENG_K_FILE": p})
	require.Equal(t, "s3cret", e.Secret("LUDENG_K"))
	require.NoError(t, e.Err())

	e = envOf(map[string]string{"LUDENG_K": "a", "LUDENG_K_FILE": p})
	e.Secret("LUDENG_K")
	require.ErrorContains(t, e.Err(), "not both")

	e = envOf(map[string]string{"LUDENG_K_FILE": filepath.Join(dir, "missing")})
	require.Empty(t, e.Secret("LUDENG_K"))
	require.ErrorContains(t, e.Err(), "LUDENG_K_FILE")
}
