package cli

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fileServer is a serve process whose log is a file: a process started by
// a handoff inherits the descriptor, and exec.Cmd.Wait would wait for the
// new process too if the log were a pipe.
type fileServer struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
	err    error
}

func (s *fileServer) logs() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// startFileServer starts `serve` (through wrap, e.g. systemd-socket-activate,
// when given) and kills whichever process the PID file names at the end.
func startFileServer(t *testing.T, bin, addr, pidFile string, env []string, wrap ...string) *fileServer {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "serve.log")
	f, err := os.Create(logPath)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	args := append(wrap, bin, "serve", "--listen", addr)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	s := &fileServer{cmd: cmd, log: logPath, exited: make(chan struct{})}
	require.NoError(t, cmd.Start())
	go func() { s.err = cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		if pid := readPID(pidFile); pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		_ = cmd.Process.Kill()
		<-s.exited
	})
	if !waitFor(60*time.Second, func() bool {
		if len(wrap) > 0 {
			// systemd-socket-activate starts the service on the first
			// connection, like a socket unit without Accept=.
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
			}
		}
		return readPID(pidFile) > 0
	}) {
		t.Fatalf("no PID file after 60 s\n%s", s.logs())
	}
	return s
}

func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// hammer sends GETs of the API meta and the batch from 4 clients until
// stop, and counts answers that are not 200 and transport errors.
func hammer(t *testing.T, c *binAPI, batchID string, stop <-chan struct{}) (ok, failed *atomic.Int64, wait func()) {
	ok, failed = &atomic.Int64{}, &atomic.Int64{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Jar: c.hc.Jar, Timeout: 30 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				path := "/api/v1/meta"
				if i%2 == 1 {
					path = "/api/v1/batches/" + batchID
				}
				res, err := hc.Get(c.base + path)
				if err != nil {
					failed.Add(1)
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
					continue
				}
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					failed.Add(1)
					mu.Lock()
					errs = append(errs, path+": "+res.Status)
					mu.Unlock()
					continue
				}
				ok.Add(1)
			}
		}()
	}
	return ok, failed, func() {
		wg.Wait()
		if len(errs) > 0 {
			t.Logf("failed requests (first 5): %v", errs[:min(5, len(errs))])
		}
	}
}

// TestHandoffMidBatch: SIGUSR2 while a batch generates (fake provider, 1 s
// per image) on SQLite. The new process takes the socket; both run on the
// same database file while the old one finishes its running jobs; the old
// one exits 0; not one request fails meanwhile; the batch succeeds with
// every image stored once and none interrupted (the new process left the
// old one's running work alone).
func TestHandoffMidBatch(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	fakeAddr := startFakes(t, bin, `{"latency":{"base":"1s"}}`)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "ludeng.pid")
	env := append(fakeEnv(t, "sqlite", fakeAddr), "LUDENG_DATA_DIR="+dir, "LUDENG_PID_FILE="+pidFile,
		"LUDENG_HANDOFF_GRACE=1s", "LUDENG_SHUTDOWN_TIMEOUT=30s", "LUDENG_API_RATE=1000", "LUDENG_API_BURST=1000")
	addr := freePort(t)
	s := startFileServer(t, bin, addr, pidFile, env)
	c := login(t, addr)
	up := c.upload()
	code, b := c.json("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 4, "enhance": "off"})
	require.Equal(t, http.StatusAccepted, code, b)
	id := b["id"].(string)
	require.Eventually(t, func() bool { _, n := batchState(c, id); return n >= 1 }, 60*time.Second, 100*time.Millisecond, s.logs())

	stop := make(chan struct{})
	ok, failed, wait := hammer(t, c, id, stop)
	oldPID := readPID(pidFile)
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGUSR2))
	select {
	case <-s.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("the old process did not exit within 60 s\n%s", s.logs())
	}
	require.NoError(t, s.err, "the old process exits 0 after handing over")
	newPID := readPID(pidFile)
	require.NotEqual(t, oldPID, newPID)
	require.NoError(t, syscall.Kill(newPID, 0), "the new process runs")
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wait()
	t.Logf("%d requests during the handoff, %d failed", ok.Load(), failed.Load())
	require.Zero(t, failed.Load())
	require.Greater(t, ok.Load(), int64(20))

	status := waitTerminalFile(t, c, s, id)
	require.Equal(t, "succeeded", status)
	events := checkOnce(t, c, id)
	for _, e := range events {
		require.NotEqual(t, "image.interrupted", e["type"], "no image was interrupted by the handoff: %v", e)
	}
	logs := s.logs()
	require.Contains(t, logs, "another live process serves this database")
	require.Contains(t, logs, "handoff complete: the old process exits")
	require.NotContains(t, logs, "marked interrupted")
}

// TestSocketActivation: systemd's socket handover (LISTEN_FDS, here through
// systemd-socket-activate, the tool systemd ships for this) is served, and
// an upgrade on top of it keeps the same socket.
func TestSocketActivation(t *testing.T) {
	t.Parallel()
	tool, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("systemd-socket-activate is not installed but CI is set (Debian package systemd)")
		}
		t.Skip("systemd-socket-activate is not installed (Debian package systemd)")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "ludeng.pid")
	addr := freePort(t)
	env := []string{"LUDENG_DATA_DIR=" + dir, "LUDENG_PID_FILE=" + pidFile, "LUDENG_DATABASE_URL=", "LUDENG_IMAGE_PROVIDERS=",
		"LUDENG_ADMIN_PASSWORD=admin-password-1", "LUDENG_HANDOFF_GRACE=1s"}
	// systemd-socket-activate passes only the variables named with -E.
	wrap := []string{tool, "--listen=" + addr}
	for _, kv := range env {
		wrap = append(wrap, "-E", kv)
	}
	s := startFileServer(t, bin, addr, pidFile, nil, wrap...)
	res, err := http.Get("http://" + addr + "/readyz")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, s.logs(), "listening on the socket passed by systemd")

	oldPID := readPID(pidFile)
	require.NoError(t, syscall.Kill(oldPID, syscall.SIGUSR2))
	select {
	case <-s.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("the old process did not exit within 60 s\n%s", s.logs())
	}
	require.NoError(t, s.err)
	require.NotEqual(t, oldPID, readPID(pidFile))
	res, err = http.Get("http://" + addr + "/readyz")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, s.logs(), "took over the listener from the previous process")
}

// waitTerminalFile is waitTerminalBin for a fileServer.
func waitTerminalFile(t *testing.T, c *binAPI, s *fileServer, id string) string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		status, _ := batchState(c, id)
		switch status {
		case "succeeded", "partially_failed", "failed":
			return status
		}
		if time.Now().After(deadline) {
			logs := s.logs()
			t.Fatalf("batch %s still %s after 90 s; log tail:\n%s", id, status, logs[max(0, len(logs)-8000):])
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}
