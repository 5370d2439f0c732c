package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

func TestUserBudgetCommand(t *testing.T) {
	t.Parallel()
	env := map[string]string{"LUDENG_DATA_DIR": t.TempDir()}
	code, _, errOut := runCLI(t, env, "a-long-password\n", "user", "add", "--name", "ops1", "--password-stdin")
	require.Equal(t, 0, code, errOut)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--daily", "20", "--monthly", "300.5"}, 0, "daily 20.00, monthly 300.50"},
		{[]string{"--daily", "none"}, 0, "daily none, monthly 300.50"},
		{[]string{"--monthly", "-3"}, 2, "not a decimal amount"},
	} {
		code, out, errOut := runCLI(t, env, "", append([]string{"user", "budget", "--name", "ops1"}, tc.args...)...)
		require.Equal(t, tc.code, code, errOut)
		require.Contains(t, out+errOut, tc.want)
	}
	code, out, _ := runCLI(t, env, "", "migrate", "status")
	require.Equal(t, 0, code)
	require.Contains(t, out, "006_batches")
}

// binAPI talks to a running binary like a same-origin browser.
type binAPI struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (c *binAPI) do(method, path, ctype string, body []byte) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	require.NoError(c.t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := c.hc.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (c *binAPI) json(method, path string, in any) (int, map[string]any) {
	c.t.Helper()
	b, _ := json.Marshal(in)
	code, out := c.do(method, path, "application/json", b)
	var m map[string]any
	_ = json.Unmarshal(out, &m)
	return code, m
}

func photoJPEG() []byte {
	m := image.NewRGBA(image.Rect(0, 0, 900, 1200))
	for y := range 1200 {
		for x := range 900 {
			m.SetRGBA(x, y, color.RGBA{uint8(x * 7), uint8(y * 5), uint8(x * y), 255})
		}
	}
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, m, &jpeg.Options{Quality: 85})
	return buf.Bytes()
}

func (c *binAPI) upload() string {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("file", "lamp.jpg")
	_, _ = w.Write(photoJPEG())
	_ = mw.Close()
	code, out := c.do("POST", "/api/v1/uploads", mw.FormDataContentType(), body.Bytes())
	require.Equal(c.t, http.StatusCreated, code, string(out))
	var m map[string]any
	require.NoError(c.t, json.Unmarshal(out, &m))
	return m["id"].(string)
}

type server struct {
	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan struct{}
	err    error
}

func startServer(t *testing.T, bin, addr string, env []string) *server {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--listen", addr)
	cmd.Env = append(os.Environ(), env...)
	s := &server{cmd: cmd, logs: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr, cmd.Stdout = s.logs, s.logs
	require.NoError(t, cmd.Start())
	go func() { s.err = cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-s.exited })
	require.Eventually(t, func() bool {
		res, err := http.Get("http://" + addr + "/livez")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	}, 60*time.Second, 50*time.Millisecond, s.logs.String())
	return s
}

func login(t *testing.T, addr string) *binAPI {
	jar, _ := cookiejar.New(nil)
	c := &binAPI{t: t, base: "http://" + addr, hc: &http.Client{Jar: jar}}
	code, out := c.json("POST", "/api/v1/auth/login", map[string]string{"username": "admin", "password": "admin-password-1"})
	require.Equal(t, 200, code, out)
	return c
}

func batchState(c *binAPI, id string) (string, int) {
	code, v := c.json("GET", "/api/v1/batches/"+id, nil)
	require.Equal(c.t, 200, code, v)
	p := v["progress"].(map[string]any)
	return v["status"].(string), int(p["succeeded"].(float64))
}

// checkOnce: every image of a terminal batch reached a terminal state and
// was stored at most once (one image.succeeded event per image).
func checkOnce(t *testing.T, c *binAPI, id string) (events []map[string]any) {
	t.Helper()
	code, ev := c.json("GET", "/api/v1/batches/"+id+"/events", nil)
	require.Equal(t, 200, code)
	succeeded := map[string]int{}
	for _, e := range ev["items"].([]any) {
		em := e.(map[string]any)
		events = append(events, em)
		if em["type"] == "image.succeeded" {
			succeeded[em["data"].(map[string]any)["image_id"].(string)]++
		}
	}
	for img, n := range succeeded {
		require.Equal(t, 1, n, "image %s stored %d times", img, n)
	}
	code, v := c.json("GET", "/api/v1/batches/"+id, nil)
	require.Equal(t, 200, code)
	n := 0
	for _, g := range v["groups"].([]any) {
		for _, im := range g.(map[string]any)["images"].([]any) {
			imm := im.(map[string]any)
			require.Contains(t, []string{"succeeded", "failed"}, imm["status"], imm)
			if imm["status"] == "succeeded" {
				n++
				require.Equal(t, 1, succeeded[imm["id"].(string)])
			}
		}
	}
	require.Equal(t, len(succeeded), n)
	return events
}

// TestPipelineCrashRecovery runs the real binary against the fake
// providers (2 s per image) on each engine: kill -9 mid-batch, restart, and
// the batch is terminal within 90 s with each image stored once; then
// SIGTERM mid-batch exits 0 and after a restart there are no duplicates
// either. On PostgreSQL the restarted process is a new node: it finds the
// killed one dead by its heartbeat and puts its running jobs back.
func TestPipelineCrashRecovery(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	fakeAddr := startFakes(t, bin, `{"latency":{"base":"2s"}}`)
	for _, engine := range testEngines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			env := append(fakeEnv(t, engine, fakeAddr), "LUDENG_DATA_DIR="+t.TempDir(), "LUDENG_PIPELINE_JOB_TIMEOUT=20s", "LUDENG_PIPELINE_RESCUE_AFTER=30s",
				"LUDENG_PIPELINE_SLOT_WAIT=5s", "LUDENG_NODE_HEARTBEAT=1s", "LUDENG_NODE_DEAD_AFTER=5s", "LUDENG_SHUTDOWN_TIMEOUT=10s")
			crashRecovery(t, bin, freePort(t), env)
		})
	}
}

func crashRecovery(t *testing.T, bin, addr string, env []string) {
	s := startServer(t, bin, addr, env)
	c := login(t, addr)
	up := c.upload()
	code, b := c.json("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 3, "enhance": "off"})
	require.Equal(t, http.StatusAccepted, code, b)
	id := b["id"].(string)
	// Mid-batch: some images done, others in flight.
	require.Eventually(t, func() bool { _, n := batchState(c, id); return n >= 2 }, 60*time.Second, 100*time.Millisecond)
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGKILL))
	<-s.exited

	start := time.Now()
	s = startServer(t, bin, addr, env)
	c = login(t, addr)
	status := waitTerminalBin(t, c, s, id)
	t.Logf("terminal %s %.1fs after the restart", status, time.Since(start).Seconds())
	events := checkOnce(t, c, id)
	interrupted := 0
	for _, e := range events {
		if e["type"] == "image.interrupted" {
			interrupted++
		}
	}
	require.Positive(t, interrupted, "in-flight images were marked interrupted")
	// The recovering node counted the dead one and names its build.
	code, metrics := c.do("GET", "/metrics", "", nil)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, string(metrics), "ludeng_pipeline_dead_nodes_total 1")
	require.Contains(t, string(metrics), `ludeng_build_info{database=`)

	// SIGTERM mid-batch: exit 0; after a restart, no duplicates.
	s2 := s
	code, b = c.json("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 2, "enhance": "off"})
	require.Equal(t, http.StatusAccepted, code, b)
	id2 := b["id"].(string)
	require.Eventually(t, func() bool { _, n := batchState(c, id2); return n >= 1 }, 60*time.Second, 100*time.Millisecond)
	require.NoError(t, s2.cmd.Process.Signal(syscall.SIGTERM))
	<-s2.exited
	require.NoError(t, s2.err, "exit 0 after SIGTERM")

	s = startServer(t, bin, addr, env)
	c = login(t, addr)
	waitTerminalBin(t, c, s, id2)
	checkOnce(t, c, id2)
}

// TestPauseAfterCrash: with LUDENG_PIPELINE_PAUSE_AFTER_CRASH a restart
// after kill -9 leaves image generation paused until an admin resumes it.
func TestPauseAfterCrash(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	fakeAddr := startFakes(t, bin, `{"latency":{"base":"1s"}}`)
	addr := freePort(t)
	env := append(fakeEnv(t, "sqlite", fakeAddr), "LUDENG_DATA_DIR="+t.TempDir(), "LUDENG_PIPELINE_PAUSE_AFTER_CRASH=true")
	s := startServer(t, bin, addr, env)
	c := login(t, addr)
	up := c.upload()
	code, b := c.json("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 2, "enhance": "off"})
	require.Equal(t, http.StatusAccepted, code, b)
	id := b["id"].(string)
	require.Eventually(t, func() bool { _, n := batchState(c, id); return n >= 1 }, 60*time.Second, 100*time.Millisecond)
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGKILL))
	<-s.exited

	s = startServer(t, bin, addr, env)
	c = login(t, addr)
	require.Eventually(t, func() bool {
		return strings.Contains(s.logs.String(), "image generation paused after an unclean shutdown")
	},
		30*time.Second, 100*time.Millisecond, s.logs.String())
	// Paused: nothing more is stored while the queue stays paused.
	_, before := batchState(c, id)
	time.Sleep(3 * time.Second)
	status, after := batchState(c, id)
	require.Equal(t, before, after, "no image finished while generation was paused (status %s)", status)
	code, v := c.json("POST", "/api/v1/admin/queue/resume", nil)
	require.Less(t, code, 300, v)
	waitTerminalBin(t, c, s, id)
	checkOnce(t, c, id)

	// A clean stop is not a crash: the next start does not pause.
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	<-s.exited
	require.NoError(t, s.err)
	s = startServer(t, bin, addr, env)
	login(t, addr)
	require.Never(t, func() bool { return strings.Contains(s.logs.String(), "image generation paused") }, 2*time.Second, 100*time.Millisecond)
}

// startFakes runs `ludeng fake-providers` with the given scenario config.
func startFakes(t *testing.T, bin, config string) string {
	t.Helper()
	fakeAddr := freePort(t)
	fakeCmd := exec.Command(bin, "fake-providers", "--listen", fakeAddr)
	fakeLogs := &syncBuffer{}
	fakeCmd.Stderr, fakeCmd.Stdout = fakeLogs, fakeLogs
	require.NoError(t, fakeCmd.Start())
	t.Cleanup(func() { _ = fakeCmd.Process.Kill(); _ = fakeCmd.Wait() })
	require.Eventually(t, func() bool {
		res, err := http.Post("http://"+fakeAddr+"/_fake/config", "application/json", strings.NewReader(config))
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	}, 30*time.Second, 50*time.Millisecond, fakeLogs.String())
	return fakeAddr
}

// fakeEnv is the environment of a serve process on engine whose only image
// provider is the fake Gemini at fakeAddr, without rate limits, and whose
// admin password is admin-password-1.
func fakeEnv(t *testing.T, engine, fakeAddr string) []string {
	return append(engineEnv(t, engine), "LUDENG_ADMIN_PASSWORD=admin-password-1", "LUDENG_IMAGE_PROVIDERS=gemini",
		"LUDENG_GEMINI_API_KEY=fake", "LUDENG_GEMINI_BASE_URL=http://"+fakeAddr+"/gemini", "LUDENG_GEMINI_RPM=0", "LUDENG_GEMINI_IPM=0")
}

// testEngines: SQLite always, PostgreSQL when LUDENG_TEST_DATABASE_URL is set.
func testEngines() []string {
	if os.Getenv("LUDENG_TEST_DATABASE_URL") != "" {
		return []string{"sqlite", "postgres"}
	}
	return []string{"sqlite"}
}

// engineEnv points the binary at SQLite in its data dir, or at a fresh
// PostgreSQL schema (search_path in the URL) dropped when the test ends.
func engineEnv(t *testing.T, engine string) []string {
	t.Helper()
	if engine == "sqlite" {
		return []string{"LUDENG_DATABASE_URL="}
	}
	base := os.Getenv("LUDENG_TEST_DATABASE_URL")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	require.NoError(t, err)
	schema := "cli_" + strings.ReplaceAll(strconv.FormatInt(time.Now().UnixNano(), 36), "-", "")
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		_ = conn.Close(context.Background())
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return []string{"LUDENG_DATABASE_URL=" + base + sep + "search_path=" + schema}
}

// waitTerminalBin waits up to 90 s for a terminal batch; on failure it
// shows the batch and the server's log.
func waitTerminalBin(t *testing.T, c *binAPI, s *server, id string) string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		status, _ := batchState(c, id)
		switch status {
		case "succeeded", "partially_failed", "failed":
			return status
		}
		if time.Now().After(deadline) {
			_, v := c.json("GET", "/api/v1/batches/"+id, nil)
			b, _ := json.Marshal(v["report"])
			_, ev := c.json("GET", "/api/v1/batches/"+id+"/events", nil)
			e, _ := json.Marshal(ev)
			logs := s.logs.String()
			t.Fatalf("batch %s still %s after 90 s; report %s\nevents %s\nlog tail:\n%s", id, status, b, e, logs[max(0, len(logs)-8000):])
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestCurlSession runs docs/examples/curl-session.sh (curl + jq) against the
// real binary with the simulator: login, upload, dry run, create, poll,
// download.
func TestCurlSession(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			// CI installs both (.ci/run); there a missing tool is a failure.
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed but CI is set", tool)
			}
			t.Skipf("%s is not installed; the curl session needs curl and jq", tool)
		}
	}
	bin := buildBinary(t)
	addr := freePort(t)
	dir := t.TempDir()
	startServer(t, bin, addr, []string{"LUDENG_DATA_DIR=" + dir, "LUDENG_ADMIN_PASSWORD=admin-password-1", "LUDENG_DATABASE_URL=",
		"LUDENG_IMAGE_PROVIDERS="})
	photo := dir + "/lamp.jpg"
	require.NoError(t, os.WriteFile(photo, photoJPEG(), 0o600))
	out := dir + "/batch.zip"
	cmd := exec.Command("bash", "../../docs/examples/curl-session.sh")
	cmd.Env = append(os.Environ(), "LUDENG_URL=http://"+addr, "LUDENG_USER=admin", "LUDENG_PASSWORD=admin-password-1",
		"PHOTO="+photo, "GROUPS=2", "OUT="+out, "TIMEOUT=120")
	logs, err := cmd.CombinedOutput()
	require.NoError(t, err, string(logs))
	require.Contains(t, string(logs), "manifest.json")
	st, err := os.Stat(out)
	require.NoError(t, err)
	require.Positive(t, st.Size())
}
