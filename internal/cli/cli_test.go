package cli

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for the exec copier goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, IO{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
	})
	return code, out.String(), errb.String()
}

func TestBadConfigExits2NamingVariable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, value string
	}{
		{"LUDENG_LOG_LEVEL", "loud"},
		{"LUDENG_LOG_FORMAT", "xml"},
		{"LUDENG_DATABASE_URL", "mysql://x"},
		{"LUDENG_TRUSTED_PROXIES", "10.0.0.0/33"},
		{"LUDENG_MIN_FREE_DISK", "lots"},
		{"LUDENG_TIMEZONE", "Mars/Olympus"},
		{"LUDENG_CURRENCY", "yuan"},
		{"LUDENG_SECRET_KEY", "short"},
		{"LUDENG_SHUTDOWN_TIMEOUT", "-5s"},
		{"LUDENG_BASE_URL", "ludeng.example.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"LUDENG_DATA_DIR": t.TempDir(), tc.name: tc.value}
			for _, cmd := range [][]string{{"serve"}, {"migrate", "status"}, {"user", "list"}} {
				code, _, stderr := runCLI(t, env, "", cmd...)
				require.Equal(t, 2, code, "%v: %s", cmd, stderr)
				lines := strings.Split(strings.TrimSpace(stderr), "\n")
				require.Len(t, lines, 1, stderr)
				require.Contains(t, lines[0], tc.name)
			}
		})
	}
	t.Run("SecretFile", func(t *testing.T) {
		t.Parallel()
		env := map[string]string{"LUDENG_DATA_DIR": t.TempDir(), "LUDENG_ADMIN_PASSWORD_FILE": "/nonexistent/pw"}
		code, _, stderr := runCLI(t, env, "", "migrate", "status")
		require.Equal(t, 2, code)
		require.Contains(t, stderr, "LUDENG_ADMIN_PASSWORD_FILE")
		require.NotContains(t, stderr, "/nonexistent/pw\n")
	})
	t.Run("UnknownFlag", func(t *testing.T) {
		t.Parallel()
		code, _, _ := runCLI(t, nil, "", "serve", "--bogus")
		require.Equal(t, 2, code)
	})
}

// TestLateComponentConfigFailsBeforeDatabase: the variables of components
// built after the database opens (providers, pipeline, WebSocket, clamd,
// cluster limits) are read and checked in the one configuration pass, so a
// bad one stops the binary before anything is created, reported together
// with every other bad value.
func TestLateComponentConfigFailsBeforeDatabase(t *testing.T) {
	t.Parallel()
	// Each variable set, and the name its problem is reported under.
	bad := []struct{ name, value, reported string }{
		{"LUDENG_API_BURST", "0", ""},                                 // the HTTP layer's, read first
		{"LUDENG_IMAGE_PROVIDERS", "gemini", "LUDENG_GEMINI_API_KEY"}, // a provider without its key
		{"LUDENG_PIPELINE_CONCURRENCY", "0", ""},
		{"LUDENG_NODE_DEAD_AFTER", "5s", ""},   // under three heartbeats
		{"LUDENG_WS_SEND_BUFFER", "1", ""},     // the live stream's
		{"LUDENG_CLAMD_ADDR", "nowhere", ""},   // not an address
		{"LUDENG_LIMITS_SCOPE", "cluster", ""}, // on SQLite
		{"LUDENG_PLAN_WEIGHTS", "1,2", ""},
		{"LUDENG_BLOB_URL", "ftp://x/", ""}, // neither the data dir nor a bucket
	}
	for _, cmd := range [][]string{{"serve"}, {"migrate", "status"}, {"plan", "--user", "admin"}} {
		t.Run(cmd[0], func(t *testing.T) {
			t.Parallel()
			dataDir := filepath.Join(t.TempDir(), "never-created")
			env := map[string]string{"LUDENG_DATA_DIR": dataDir}
			for _, b := range bad {
				env[b.name] = b.value
			}
			code, _, stderr := runCLI(t, env, "", cmd...)
			require.Equal(t, 2, code, stderr)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			for _, b := range bad {
				name := cmp.Or(b.reported, b.name)
				n := 0
				for _, l := range lines {
					if strings.HasPrefix(l, "ludeng: "+name+": ") {
						n++
					}
				}
				require.Positive(t, n, "%s not reported as NAME: reason in\n%s", name, stderr)
			}
			_, err := os.Stat(dataDir)
			require.ErrorIs(t, err, os.ErrNotExist, "the data directory (and the SQLite database in it) must not be created")
		})
	}
}

func TestUserCommands(t *testing.T) {
	t.Parallel()
	env := map[string]string{"LUDENG_DATA_DIR": t.TempDir()}
	code, out, errOut := runCLI(t, env, "a-long-password\n", "user", "add", "--name", "ops1", "--password-stdin")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "created operator user ops1")
	code, _, errOut = runCLI(t, env, "", "user", "add", "--name", "ops1", "--password", "another-long-one")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "already taken")
	code, out, _ = runCLI(t, env, "", "user", "add", "--name", "root2", "--admin")
	require.Equal(t, 0, code)
	require.Contains(t, out, "generated password")
	code, out, _ = runCLI(t, env, "", "user", "list")
	require.Equal(t, 0, code)
	require.Contains(t, out, "ops1")
	require.Contains(t, out, "admin")

	code, out, _ = runCLI(t, env, "", "user", "token", "--name", "ops1", "--expires", "90d")
	require.Equal(t, 0, code)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.True(t, strings.HasPrefix(lines[len(lines)-1], "ldg_"), out)

	code, _, _ = runCLI(t, env, "new-long-password\n", "user", "passwd", "--name", "ops1")
	require.Equal(t, 0, code)
	code, out, _ = runCLI(t, env, "", "user", "disable", "--name", "ops1")
	require.Equal(t, 0, code)
	require.Contains(t, out, "disabled ops1")
	code, out, _ = runCLI(t, env, "", "user", "list")
	require.Equal(t, 0, code)
	require.Regexp(t, `ops1\s+operator\s+disabled`, out)
	code, _, errOut = runCLI(t, env, "", "user", "disable", "--name", "ghost")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "ghost")

	code, out, _ = runCLI(t, env, "", "migrate", "status")
	require.Equal(t, 0, code)
	require.Contains(t, out, "001_foundation")
}

// buildBinary compiles cmd/ludeng once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ludeng")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/ludeng/ludeng/cmd/ludeng")
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Run())
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestSIGTERMDrainsSlowRequest starts the real binary, opens a request whose
// body trickles in, sends SIGTERM mid-request, then finishes the body: the
// request must complete with a real answer and the process must exit 0.
func TestSIGTERMDrainsSlowRequest(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	addr := freePort(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "serve", "--listen", addr)
	cmd.Env = append(os.Environ(), "LUDENG_DATA_DIR="+dir, "LUDENG_ADMIN_PASSWORD=admin-password-1", "LUDENG_DATABASE_URL=")
	logs := &syncBuffer{}
	cmd.Stderr = logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	require.Eventually(t, func() bool {
		res, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	}, 30*time.Second, 50*time.Millisecond, logs.String())

	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	body := `{"username":"admin","password":"admin-password-1"}`
	_, err = fmt.Fprintf(conn, "POST /api/v1/auth/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nSec-Fetch-Site: same-origin\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body[:10])
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond) // the server is now reading a half-sent body

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "shutting down") }, 10*time.Second, 20*time.Millisecond)
	// New connections are refused while the in-flight request drains.
	_, err = http.Get("http://" + addr + "/livez")
	require.Error(t, err)

	_, err = io.WriteString(conn, body[10:])
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res.Body.Close()

	require.NoError(t, cmd.Wait(), logs.String())
	require.Equal(t, 0, cmd.ProcessState.ExitCode())
	require.Contains(t, logs.String(), "shutdown complete")
}

func TestFirstStartWritesAdminPasswordFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg, err := loadConfig(func(k string) string { return map[string]string{"LUDENG_DATA_DIR": dir}[k] })
	require.NoError(t, err)
	var logs bytes.Buffer
	a, err := openApp(context.Background(), cfg, cfg.newLogger(&logs), nil)
	require.NoError(t, err)
	a.close()
	st, err := os.Stat(filepath.Join(dir, "initial-admin-password"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	pw, _ := os.ReadFile(filepath.Join(dir, "initial-admin-password"))
	require.NotContains(t, logs.String(), strings.TrimSpace(string(pw)))
	require.Contains(t, logs.String(), "initial-admin-password")
	key, err := os.Stat(filepath.Join(dir, "secret.key"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), key.Mode().Perm())
}

// TestPoolImportPickedUpOnSIGHUP: `ludeng pool import` writes a new version
// into the database of a running server; SIGHUP makes the server serve it
// without a restart.
func TestPoolImportPickedUpOnSIGHUP(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	addr := freePort(t)
	dir := t.TempDir()
	env := append(os.Environ(), "LUDENG_DATA_DIR="+dir, "LUDENG_ADMIN_PASSWORD=admin-password-1", "LUDENG_DATABASE_URL=")
	cmd := exec.Command(bin, "serve", "--listen", addr)
	cmd.Env = env
	logs := &syncBuffer{}
	cmd.Stderr = logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	var tok string
	require.Eventually(t, func() bool {
		res, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	}, 30*time.Second, 50*time.Millisecond, logs.String())
	tok = func() string {
		c := exec.Command(bin, "user", "token", "--name", "admin")
		c.Env = env
		out, err := c.Output()
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		return lines[len(lines)-1]
	}()
	version := func() float64 {
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/pool/version", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		require.Equal(t, 200, res.StatusCode)
		var v struct{ Number float64 }
		require.NoError(t, json.NewDecoder(res.Body).Decode(&v))
		return v.Number
	}
	require.Equal(t, float64(1), version())

	// Export, edit one label, import as version 2.
	export := filepath.Join(t.TempDir(), "pool")
	c := exec.Command(bin, "pool", "export", export)
	c.Env = env
	out, err := c.CombinedOutput()
	require.NoError(t, err, string(out))
	b, err := os.ReadFile(filepath.Join(export, "roads.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(export, "roads.json"), bytes.Replace(b, []byte(`"土路"`), []byte(`"乡间土路"`), 1), 0o644))
	c = exec.Command(bin, "pool", "import", export)
	c.Env = env
	out, err = c.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "as version 2")
	c = exec.Command(bin, "pool", "import", export)
	c.Env = env
	out, err = c.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "unchanged")

	require.Equal(t, float64(1), version(), "not picked up before the signal")
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return version() == 2 }, 10*time.Second, 50*time.Millisecond, logs.String())
}

func TestPoolValidateCommand(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCLI(t, nil, "", "pool", "validate", "../../data/pool")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `ok: (1[5-9][0-9]|[2-9][0-9][0-9]) regions .* in 31 provinces; 8 zones × 12 months = 96 seasons; 4 roads; ([6-9][0-9]|[1-9][0-9][0-9]) elements`, out)
	// The embedded copy is the same data.
	code, out2, _ := runCLI(t, nil, "", "pool", "validate")
	require.Equal(t, 0, code)
	require.Equal(t, out, out2)

	// A copy of the real data with one county listed twice fails with a line naming it.
	broken := t.TempDir()
	require.NoError(t, os.CopyFS(broken, os.DirFS("../../data/pool")))
	var f map[string]any
	b, err := os.ReadFile(filepath.Join(broken, "regions", "13.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &f))
	f["regions"] = append(f["regions"].([]any), f["regions"].([]any)[0])
	b, err = json.Marshal(f)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(broken, "regions", "13.json"), b, 0o644))
	code, out, errOut = runCLI(t, nil, "", "pool", "validate", broken)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "1 problem(s)")
	require.Contains(t, out, "regions/13.json")
	require.Contains(t, out, "duplicate")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		require.Regexp(t, `^[^:]+: [^:]*: .+`, line, "one problem per line: file: where: message")
	}
}

// TestServeAgainstFakeProviders runs `ludeng fake-providers` and a `serve`
// configured with Gemini pointed at it: the service reports real (not
// simulated) images and the admin probe reaches the fake without a paid call.
func TestServeAgainstFakeProviders(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	fakeAddr, addr := freePort(t), freePort(t)
	fakeCmd := exec.Command(bin, "fake-providers", "--listen", fakeAddr)
	fakeLogs := &syncBuffer{}
	fakeCmd.Stderr, fakeCmd.Stdout = fakeLogs, fakeLogs
	require.NoError(t, fakeCmd.Start())
	t.Cleanup(func() { _ = fakeCmd.Process.Kill(); _ = fakeCmd.Wait() })

	cmd := exec.Command(bin, "serve", "--listen", addr)
	cmd.Env = append(os.Environ(), "LUDENG_DATA_DIR="+t.TempDir(), "LUDENG_ADMIN_PASSWORD=admin-password-1", "LUDENG_DATABASE_URL=",
		"LUDENG_IMAGE_PROVIDERS=gemini", "LUDENG_GEMINI_API_KEY=fake-key-not-logged", "LUDENG_GEMINI_BASE_URL=http://"+fakeAddr+"/gemini")
	logs := &syncBuffer{}
	cmd.Stderr = logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	require.Eventually(t, func() bool {
		res, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	}, 30*time.Second, 50*time.Millisecond, logs.String())

	get := func(path string, v any) int {
		res, err := http.Get("http://" + addr + path)
		require.NoError(t, err)
		defer res.Body.Close()
		if v != nil {
			require.NoError(t, json.NewDecoder(res.Body).Decode(v))
		}
		return res.StatusCode
	}
	var meta struct{ Simulated bool }
	require.Equal(t, 200, get("/api/v1/meta", &meta))
	require.False(t, meta.Simulated)

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/auth/login", strings.NewReader(`{"username":"admin","password":"admin-password-1"}`))
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := hc.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	req, _ = http.NewRequest("POST", "http://"+addr+"/api/v1/admin/providers/probe", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err = hc.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode, string(body))
	require.Contains(t, string(body), "gemini")

	// The probe made no generation call (the fake counts those per outcome).
	res, err = http.Get("http://" + fakeAddr + "/_fake/stats")
	require.NoError(t, err)
	var stats map[string]map[string]int
	require.NoError(t, json.NewDecoder(res.Body).Decode(&stats))
	res.Body.Close()
	require.Contains(t, stats, "gemini")
	require.Empty(t, stats["gemini"], "probing spends nothing")
	require.NotContains(t, logs.String(), "fake-key-not-logged", "keys are never logged")
}
