//go:build abuse

package cli

// The abuse suite (issue 18): each of the ten findings reproduced against
// the real binary on loopback and shown refused, with the number measured
// printed as an "ABUSE" line (the suite's output is the evidence). Run by
// .ci/abuse.sh: go test -tags abuse -run TestAbuse -v ./internal/cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/upload/uploadtest"
)

func report(t *testing.T, format string, args ...any) {
	t.Helper()
	line := "ABUSE " + fmt.Sprintf(format, args...)
	t.Log(line)
	fmt.Println(line)
}

// peakRSS is the process's high-water resident set (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

func newClient(t *testing.T, addr string) *binAPI {
	jar, _ := cookiejar.New(nil)
	return &binAPI{t: t, base: "http://" + addr, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

func loginAs(t *testing.T, addr, user, pw string) *binAPI {
	t.Helper()
	c := newClient(t, addr)
	code, out := c.json("POST", "/api/v1/auth/login", map[string]string{"username": user, "password": pw})
	require.Equal(t, 200, code, out)
	return c
}

func createUser(t *testing.T, admin *binAPI, name string) {
	t.Helper()
	code, out := admin.json("POST", "/api/v1/admin/users", map[string]string{"username": name, "password": "password-" + name})
	require.Equal(t, http.StatusCreated, code, out)
}

func bearer(t *testing.T, addr, token, method, path string) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	return res.StatusCode
}

func dialWS(ctx context.Context, c *binAPI, addr, origin string) (*websocket.Conn, *http.Response, error) {
	return websocket.Dial(ctx, "ws://"+addr+"/api/v1/ws", &websocket.DialOptions{HTTPClient: c.hc,
		HTTPHeader: http.Header{"Origin": {origin}}})
}

func TestAbuse(t *testing.T) {
	bin := buildBinary(t)
	t.Run("exposure and credentials", func(t *testing.T) { abuseMain(t, bin) })
	t.Run("fair scheduling", func(t *testing.T) { abuseFairness(t, bin) })
}

func abuseMain(t *testing.T, bin string) {
	fakeAddr := startFakes(t, bin, `{"latency":{"base":"200ms"}}`)
	addr := freePort(t)
	data := t.TempDir()
	const readTimeout = 2 * time.Second
	s := startServer(t, bin, addr, append(fakeEnv(t, "sqlite", fakeAddr), "LUDENG_DATA_DIR="+data,
		"LUDENG_HTTP_READ_TIMEOUT="+readTimeout.String(), "LUDENG_UPLOAD_GRACE=2s",
		"LUDENG_API_RATE=1", "LUDENG_API_BURST=40", "LUDENG_MAX_TOKENS_PER_USER=30",
		"LUDENG_WS_MAX_CONNS_PER_USER=16",
		// Loopback is not an operator network here, so the suite is the anonymous caller.
		"LUDENG_OPERATOR_NETWORKS=192.0.2.0/24", "LUDENG_METRICS_TOKEN=metrics-token-0123456789"))
	pid := s.cmd.Process.Pid
	admin := loginAs(t, addr, "admin", "admin-password-1")
	for _, u := range []string{"tok", "wsuser", "linker", "pwuser"} {
		createUser(t, admin, u)
	}

	// 10. Exposure without nginx.
	anon := newClient(t, addr)
	code, body := anon.do("GET", "/readyz", "", nil)
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"status":"ok"}`, string(body))
	code, _ = anon.do("GET", "/metrics", "", nil)
	require.Equal(t, http.StatusForbidden, code)
	require.Equal(t, http.StatusOK, bearer(t, addr, "metrics-token-0123456789", "GET", "/metrics"))
	report(t, "10 exposure: anonymous /readyz body %s, anonymous /metrics %d, with the metrics token 200", bytes.TrimSpace(body), code)
	// 33,000 one-letter values: the URL still fits the 64 KiB header limit;
	// it used to become 33,000 SQL parameters, past SQLite's 32,766.
	tokUser := loginAs(t, addr, "tok", "password-tok")
	code, out := tokUser.do("GET", "/api/v1/batches?status="+strings.Repeat("x,", 33000), "", nil)
	require.Equal(t, http.StatusUnprocessableEntity, code, string(out))
	require.Contains(t, string(out), "too_many_filter_values")
	report(t, "10 status= with 33000 values: %d too_many_filter_values (was 500)", code)
	code, _ = tokUser.json("POST", "/api/v1/auth/tokens", map[string]string{"name": "a\x00b\r\nX: y"})
	require.Equal(t, http.StatusBadRequest, code)
	code2, _ := tokUser.json("POST", "/api/v1/presets", map[string]any{"name": "evil\u202Egpj.exe", "settings": map[string]any{}})
	require.Equal(t, http.StatusBadRequest, code2)
	report(t, "10 names: token name with NUL/CR/LF %d, preset name with U+202E %d", code, code2)
	hookCode, _ := anon.do("POST", "/api/v1/hooks/kie/SECRET-IN-PATH-42", "application/json", []byte(`{}`))
	require.Eventually(t, func() bool { return strings.Contains(s.logs.String(), "/api/v1/hooks/kie/{secret}") }, 5*time.Second, 50*time.Millisecond)
	require.NotContains(t, s.logs.String(), "SECRET-IN-PATH-42")
	report(t, "10 kie callback: answered %d, access log shows /api/v1/hooks/kie/{secret}, secret absent from the log", hookCode)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wsUser := loginAs(t, addr, "wsuser", "password-wsuser")
	_, res, err := dialWS(ctx, wsUser, addr, "https://"+addr)
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	report(t, "10 websocket origin https://%s on an http listener: %d", addr, res.StatusCode)

	// 5. Thirty tokens of one user share one limit; the cap and lifetime hold.
	var tokens []string
	for i := 0; i < 30; i++ {
		code, m := tokUser.json("POST", "/api/v1/auth/tokens", map[string]string{"name": "t" + strconv.Itoa(i)})
		require.Equal(t, http.StatusCreated, code, m)
		tokens = append(tokens, m["token"].(string))
		require.NotNil(t, m["api_token"].(map[string]any)["expires_at"], "every token expires")
	}
	code, _ = tokUser.json("POST", "/api/v1/auth/tokens", map[string]string{"name": "t30"})
	require.Equal(t, http.StatusConflict, code)
	okN, limited := 0, 0
	for round := 0; round < 2; round++ {
		for _, tk := range tokens {
			switch bearer(t, addr, tk, "GET", "/api/v1/auth/me") {
			case 200:
				okN++
			case 429:
				limited++
			}
		}
	}
	require.LessOrEqual(t, okN, 40, "one bucket of burst 40 (minus the session's requests, plus refill at 1/s)")
	require.GreaterOrEqual(t, limited, 20)
	report(t, "5 tokens: 31st token %d; 60 requests over 30 tokens of one user: %d ok, %d answered 429 (burst 40, 1/s)", code, okN, limited)

	// 6. WebSocket connections per user.
	var conns []*websocket.Conn
	for i := 0; i < 16; i++ {
		c, _, err := dialWS(ctx, wsUser, addr, "http://"+addr)
		require.NoError(t, err)
		conns = append(conns, c)
	}
	_, res, err = dialWS(ctx, wsUser, addr, "http://"+addr)
	require.Error(t, err)
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	report(t, "6 websockets: 16 accepted for one user, the 17th answered %d", res.StatusCode)

	// 7. A disabled user's socket closes.
	up := wsUser.upload()
	code, b := wsUser.json("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 1, "enhance": "off"})
	require.Equal(t, http.StatusAccepted, code, b)
	live := conns[0]
	require.NoError(t, wsjson.Write(ctx, live, map[string]any{"type": "subscribe", "batch_id": b["id"]}))
	closed := make(chan websocket.StatusCode, 1)
	go func() {
		for {
			if _, _, err := live.Read(ctx); err != nil {
				closed <- websocket.CloseStatus(err)
				return
			}
		}
	}()
	code, m := admin.json("GET", "/api/v1/admin/users", nil)
	require.Equal(t, 200, code)
	var wsUserID string
	for _, it := range m["items"].([]any) {
		if u := it.(map[string]any); u["username"] == "wsuser" {
			wsUserID = u["id"].(string)
		}
	}
	start := time.Now()
	code, _ = admin.json("PATCH", "/api/v1/admin/users/"+wsUserID, map[string]any{"disabled": true})
	require.Equal(t, 200, code)
	select {
	case st := <-closed:
		took := time.Since(start)
		require.Equal(t, websocket.StatusCode(4003), st)
		require.Less(t, took, 2*time.Second)
		report(t, "7 live rights: disabled user's socket closed with %d after %v", st, took.Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("the disabled user's socket stayed open")
	}
	for _, c := range conns {
		_ = c.CloseNow()
	}

	// 9. Signed links die with logout-all and with a password change.
	linker := loginAs(t, addr, "linker", "password-linker")
	upID := linker.upload()
	link := func() string {
		code, m := linker.json("POST", "/api/v1/uploads/"+upID+"/links", map[string]string{"expires_in": "1h"})
		require.Equal(t, http.StatusCreated, code, m)
		return m["url"].(string)
	}
	l1 := link()
	code, _ = anon.do("GET", l1, "", nil)
	require.Equal(t, 200, code)
	code, _ = linker.do("POST", "/api/v1/auth/logout-all", "", nil)
	require.Equal(t, http.StatusNoContent, code)
	afterLogout, _ := anon.do("GET", l1, "", nil)
	require.Equal(t, http.StatusForbidden, afterLogout)
	linker = loginAs(t, addr, "linker", "password-linker")
	l2 := link()
	code, _ = linker.json("PUT", "/api/v1/auth/password", map[string]string{"current_password": "password-linker", "new_password": "password-linker-2"})
	require.Equal(t, http.StatusNoContent, code)
	afterPw, _ := anon.do("GET", l2, "", nil)
	require.Equal(t, http.StatusForbidden, afterPw)
	report(t, "9 signed links: after logout-all %d, after a password change %d", afterLogout, afterPw)

	// 8. PUT /auth/password is throttled like login.
	pw := loginAs(t, addr, "pwuser", "password-pwuser")
	var pwCodes []int
	for i := 0; i < 8; i++ {
		code, _ := pw.json("PUT", "/api/v1/auth/password", map[string]string{"current_password": "guess-" + strconv.Itoa(i), "new_password": "whatever-123456"})
		pwCodes = append(pwCodes, code)
	}
	require.Equal(t, []int{403, 403, 403, 403, 403, 429, 429, 429}, pwCodes)
	report(t, "8 password change guesses: %v", pwCodes)

	// 3. Scan-bomb JPEG (uploaded by pwuser: tok's bucket is spent).
	bomb := uploadtest.ScanBombJPEG(5000)
	var mb bytes.Buffer
	mw := multipart.NewWriter(&mb)
	fw, _ := mw.CreateFormFile("file", "bomb.jpg")
	_, _ = fw.Write(bomb)
	_ = mw.Close()
	start = time.Now()
	code, out = pw.do("POST", "/api/v1/uploads", mw.FormDataContentType(), mb.Bytes())
	took := time.Since(start)
	require.Equal(t, http.StatusUnprocessableEntity, code, string(out))
	require.Contains(t, string(out), "upload_too_many_scans")
	require.Less(t, took, time.Second)
	report(t, "3 scan bomb: %d-byte JPEG with 5000 scans refused %d upload_too_many_scans in %v", len(bomb), code, took.Round(time.Millisecond))

	// 4. Connections that send headers and never the body. The declared
	// length is under net/http's 256 KiB, the size it would read after the
	// handler to keep the connection: that read is what used to wait forever.
	const n = 2000
	hdr := "POST /api/v1/uploads HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 100000\r\n\r\n"
	closedAfter := make([]time.Duration, n)
	var wg sync.WaitGroup
	startAll := time.Now()
	for i := 0; i < n; i++ {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		require.NoError(t, err, "connection %d", i)
		_, err = conn.Write([]byte(hdr))
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			sent := time.Now()
			_ = conn.SetReadDeadline(time.Now().Add(readTimeout + 20*time.Second))
			_, _ = bufio.NewReader(conn).WriteTo(discard{})
			closedAfter[i] = time.Since(sent)
		}()
	}
	wg.Wait()
	var worst time.Duration
	for _, d := range closedAfter {
		worst = max(worst, d)
	}
	require.Less(t, worst, readTimeout+3*time.Second, "every header-only connection closed by the read deadline")
	report(t, "4 header-only: %d unauthenticated upload connections (headers, no body) all closed; slowest after %v (read timeout %v), all within %v",
		n, worst.Round(time.Millisecond), readTimeout, time.Since(startAll).Round(time.Millisecond))
	// An authenticated upload that stalls meets the minimum transfer rate.
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, err = conn.Write([]byte(strings.Replace(hdr, "\r\n\r\n", "\r\nAuthorization: Bearer "+tokens[0]+"\r\n\r\n", 1)))
	require.NoError(t, err)
	sent := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, _ = bufio.NewReader(conn).WriteTo(discard{})
	stalled := time.Since(sent)
	conn.Close()
	require.Less(t, stalled, 10*time.Second)
	report(t, "4 authenticated stalled upload closed after %v (grace 2s, min rate 4 KiB/s)", stalled.Round(time.Millisecond))

	// 2. Overlong usernames are refused before anything is stored.
	dbPath := filepath.Join(data, "ludeng.db")
	sizeOf := func() int64 {
		var total int64
		for _, p := range []string{dbPath, dbPath + "-wal"} {
			if fi, err := os.Stat(p); err == nil {
				total += fi.Size()
			}
		}
		return total
	}
	before := sizeOf()
	long := strings.Repeat("u", 900<<10)
	var longCodes = map[int]int{}
	for i := 0; i < 60; i++ {
		code, _ := anon.json("POST", "/api/v1/auth/login", map[string]string{"username": long, "password": "x"})
		longCodes[code]++
	}
	require.Equal(t, map[int]int{400: 60}, longCodes)
	grew := sizeOf() - before
	require.Less(t, grew, int64(1<<20))
	report(t, "2 overlong usernames: 60 logins with 900 KiB usernames answered %v; database grew %d bytes (was +54 MB)", longCodes, grew)

	// 1. A hundred concurrent wrong logins for one user from one address.
	codes := make(chan int, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(t, addr)
			code, _ := c.json("POST", "/api/v1/auth/login", map[string]string{"username": "admin", "password": "wrong-" + strconv.Itoa(i)})
			codes <- code
		}()
	}
	wg.Wait()
	close(codes)
	byCode := map[int]int{}
	for c := range codes {
		byCode[c]++
	}
	rss := peakRSS(t, pid)
	require.GreaterOrEqual(t, byCode[429], 95, "%v", byCode)
	require.Less(t, rss, int64(300<<20))
	code, _ = newClient(t, addr).json("POST", "/api/v1/auth/login", map[string]string{"username": "admin", "password": "admin-password-1"})
	require.Equal(t, http.StatusTooManyRequests, code)
	report(t, "1 login flood: 100 concurrent wrong passwords for one user → %v; the right password next: %d; server peak RSS %d MiB", byCode, code, rss>>20)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// abuseFairness: user A queues 40 two-group batches (320 images, more than
// River's 200-job fetch window); user B's one-group batch must start within
// about one provider round.
func abuseFairness(t *testing.T, bin string) {
	const latency = 3 * time.Second
	fakeAddr := startFakes(t, bin, `{"latency":{"base":"3s"}}`)
	addr := freePort(t)
	startServer(t, bin, addr, append(fakeEnv(t, "sqlite", fakeAddr), "LUDENG_DATA_DIR="+t.TempDir(),
		"LUDENG_PIPELINE_CONCURRENCY=2", "LUDENG_MAX_QUEUED_IMAGES_PER_USER=350"))
	admin := loginAs(t, addr, "admin", "admin-password-1")
	createUser(t, admin, "heavy")
	createUser(t, admin, "light")
	heavy, light := loginAs(t, addr, "heavy", "password-heavy"), loginAs(t, addr, "light", "password-light")
	hup, lup := heavy.upload(), light.upload()
	queued := 0
	for i := 0; i < 40; i++ {
		code, b := heavy.json("POST", "/api/v1/batches", map[string]any{"upload_id": hup, "mode": "smart", "groups": 2, "enhance": "off"})
		require.Equal(t, http.StatusAccepted, code, b)
		queued += 8
	}
	// The per-user cap: 48 more images would pass 350 queued.
	code, b := heavy.json("POST", "/api/v1/batches", map[string]any{"upload_id": hup, "mode": "smart", "groups": 12, "enhance": "off"})
	require.Equal(t, http.StatusTooManyRequests, code, b)
	report(t, "6 queue cap: user with %d images queued; a 12-group batch more answered %d user_queue_full", queued, code)
	// Let the heavy user's jobs fill the workers first.
	time.Sleep(2 * latency)
	start := time.Now()
	code, b = light.json("POST", "/api/v1/batches", map[string]any{"upload_id": lup, "mode": "smart", "groups": 1, "enhance": "off"})
	require.Equal(t, http.StatusAccepted, code, b)
	id := b["id"].(string)
	var started time.Duration
	deadline := time.Now().Add(60 * time.Second)
	for started == 0 && time.Now().Before(deadline) {
		_, v := light.json("GET", "/api/v1/batches/"+id, nil)
		for _, g := range v["groups"].([]any) {
			for _, im := range g.(map[string]any)["images"].([]any) {
				if st := im.(map[string]any)["status"]; st == "running" || st == "succeeded" {
					started = time.Since(start)
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NotZero(t, started, "the light user's batch never started")
	require.Less(t, started, 2*latency, "within about one provider round (%v) of submitting", latency)
	report(t, "6 fairness: light user's 1-group batch started %v after submit while the heavy user had 40 batches (%d images) queued; provider round %v",
		started.Round(time.Millisecond), queued, latency)
}
