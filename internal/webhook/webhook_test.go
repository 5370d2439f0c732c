package webhook_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/webhook"
)

func TestSignVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_790_000_000, 0)
	body := []byte(`{"id":"d1","event":"batch.done"}`)
	sig := webhook.Sign("whsec_x", now, body)
	require.Regexp(t, `^t=1790000000,v1=[0-9a-f]{64}$`, sig)

	tests := []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", "whsec_x", sig, body, now, nil},
		{"valid within tolerance", "whsec_x", sig, body, now.Add(4 * time.Minute), nil},
		{"rotation: second v1 matches", "whsec_x", sig[:strings.Index(sig, ",")] + ",v1=" + strings.Repeat("0", 64) + sig[strings.Index(sig, ","):], body, now, nil},
		{"tampered body", "whsec_x", sig, []byte(`{"id":"d1","event":"batch.failed"}`), now, webhook.ErrSignatureMismatch},
		{"wrong secret", "whsec_y", sig, body, now, webhook.ErrSignatureMismatch},
		{"tampered timestamp", "whsec_x", strings.Replace(sig, "t=1790000000", "t=1790000001", 1), body, now, webhook.ErrSignatureMismatch},
		{"replayed later", "whsec_x", sig, body, now.Add(time.Hour), webhook.ErrSignatureExpired},
		{"no v1", "whsec_x", "t=1790000000", body, now, webhook.ErrBadSignatureHeader},
		{"garbage", "whsec_x", "nonsense", body, now, webhook.ErrBadSignatureHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := webhook.Verify(tt.secret, tt.header, tt.body, tt.now, 0)
			if tt.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.want)
			}
		})
	}
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	a, err := webhook.NewSecret()
	require.NoError(t, err)
	b, err := webhook.NewSecret()
	require.NoError(t, err)
	require.NotEqual(t, a, b)
	require.True(t, strings.HasPrefix(a, "whsec_"))
}

func TestBlocked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr          string
		blocked       bool
		allowLoopback bool
	}{
		{"127.0.0.1", true, false},
		{"127.0.0.1", false, true},
		{"::1", true, false},
		{"10.1.2.3", true, false},
		{"10.1.2.3", true, true}, // the test flag never opens private ranges
		{"172.16.0.1", true, false},
		{"192.168.1.1", true, false},
		{"169.254.169.254", true, false}, // cloud metadata
		{"100.64.0.1", true, false},      // CGNAT
		{"0.0.0.0", true, false},
		{"224.0.0.1", true, false},
		{"255.255.255.255", true, false},
		{"::", true, false},
		{"fe80::1", true, false},
		{"fd12:3456::1", true, false}, // ULA
		{"ff02::1", true, false},
		{"::ffff:10.0.0.1", true, false}, // IPv4-mapped
		{"::ffff:127.0.0.1", true, false},
		{"64:ff9b::a00:1", true, false}, // NAT64 of 10.0.0.1
		{"8.8.8.8", false, false},
		{"1.1.1.1", false, false},
		{"2606:4700:4700::1111", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.blocked, webhook.Blocked(netip.MustParseAddr(tt.addr), tt.allowLoopback))
		})
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url           string
		allowLoopback bool
		want          error
	}{
		{"https://hooks.example.com/ludeng", false, nil},
		{"http://hooks.example.com/ludeng", false, webhook.ErrInvalidURL},
		{"http://hooks.example.com/ludeng", true, webhook.ErrInvalidURL}, // flag: loopback only
		{"http://127.0.0.1:8080/hook", true, nil},
		{"http://localhost:8080/hook", true, nil},
		{"http://127.0.0.1:8080/hook", false, webhook.ErrInvalidURL},
		{"https://user:pw@hooks.example.com/", false, webhook.ErrInvalidURL},
		{"ftp://hooks.example.com/", false, webhook.ErrInvalidURL},
		{"/relative", false, webhook.ErrInvalidURL},
		{"https://10.0.0.1/hook", false, webhook.ErrBlockedAddress},
		{"https://[fd00::1]/hook", false, webhook.ErrBlockedAddress},
		{"https://169.254.169.254/latest/meta-data/", true, webhook.ErrBlockedAddress},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			err := webhook.CheckURL(tt.url, tt.allowLoopback)
			if tt.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.want)
			}
		})
	}
}

// fakeDNS answers A and AAAA queries from a table over UDP on loopback, so
// the guard can be tested with hostnames that resolve to internal addresses.
func fakeDNS(t *testing.T, records map[string]string) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
			_ = b.StartQuestions()
			_ = b.Question(q)
			_ = b.StartAnswers()
			rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
			if ip, ok := records[strings.TrimSuffix(q.Name.String(), ".")]; ok {
				a := netip.MustParseAddr(ip)
				switch {
				case q.Type == dnsmessage.TypeA && a.Is4():
					_ = b.AResource(rh, dnsmessage.AResource{A: a.As4()})
				case q.Type == dnsmessage.TypeAAAA && a.Is6():
					_ = b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: a.As16()})
				}
			}
			msg, err := b.Finish()
			if err == nil {
				_, _ = pc.WriteTo(msg, from)
			}
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

func TestDeliverRefusesInternalTargets(t *testing.T) {
	t.Parallel()
	// A real listener on loopback: if the guard failed, the delivery would
	// reach it and count.
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	resolver := fakeDNS(t, map[string]string{
		"loopback.ludeng.test":    "127.0.0.1",
		"private.ludeng.test":     "10.1.2.3",
		"cgnat.ludeng.test":       "100.64.1.1",
		"metadata.ludeng.test":    "169.254.169.254",
		"ula.ludeng.test":         "fd00::1",
		"unspecified.ludeng.test": "0.0.0.0",
	})
	client, err := webhook.NewClient(webhook.Config{Resolver: resolver, Timeout: 10 * time.Second})
	require.NoError(t, err)
	p := ":" + strconv.Itoa(port)
	for _, url := range []string{
		"https://loopback.ludeng.test" + p + "/hook",
		"https://private.ludeng.test/hook",
		"https://cgnat.ludeng.test/hook",
		"https://metadata.ludeng.test/latest/meta-data/",
		"https://ula.ludeng.test/hook",
		"https://unspecified.ludeng.test" + p + "/hook",
		"https://127.0.0.1" + p + "/hook",
		"https://[::1]" + p + "/hook",
		"https://10.0.0.1/hook",
		"https://169.254.169.254/latest/meta-data/",
		"http://127.0.0.1" + p + "/hook", // http needs the test flag
		"http://example.com/hook",
	} {
		t.Run(url, func(t *testing.T) {
			t.Parallel()
			status, err := webhook.Deliver(context.Background(), client, url, "s", "batch.done", []byte(`{}`))
			require.Error(t, err)
			require.Zero(t, status)
			require.False(t, webhook.Retryable(err), "a blocked target is permanent: %v", err)
			fe := fault.As(err)
			require.NotNil(t, fe, "%v", err)
			require.Contains(t, []string{"webhook_url_blocked", "webhook_url_invalid"}, fe.Code)
		})
	}
	t.Cleanup(func() { require.Zero(t, hits.Load(), "the guard let a request through") })
}

func TestDeliverClassifies(t *testing.T) {
	t.Parallel()
	client, err := webhook.NewClient(webhook.Config{AllowHTTPLoopback: true, Timeout: 2 * time.Second})
	require.NoError(t, err)

	t.Run("500 then 200: retryable, then delivered and verifiable", func(t *testing.T) {
		t.Parallel()
		var calls atomic.Int32
		verified := make(chan error, 2)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, _ := io.ReadAll(r.Body)
			verified <- webhook.Verify("whsec_t", r.Header.Get(webhook.HeaderSignature), got, time.Now(), 0)
			if r.Header.Get(webhook.HeaderEvent) != "batch.done" || r.Header.Get("Content-Type") != "application/json" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			if calls.Add(1) == 1 {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusOK)
		}))
		t.Cleanup(srv.Close)
		body := []byte(`{"id":"d1","event":"batch.done"}`)
		status, err := webhook.Deliver(context.Background(), client, srv.URL+"/hook", "whsec_t", "batch.done", body)
		require.Equal(t, http.StatusInternalServerError, status)
		require.True(t, webhook.Retryable(err))
		require.NoError(t, <-verified)
		// The caller (a River job) retries:
		status, err = webhook.Deliver(context.Background(), client, srv.URL+"/hook", "whsec_t", "batch.done", body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		require.NoError(t, <-verified)
	})

	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		retryable  bool
		retryAfter time.Duration
	}{
		{"204 ok", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }, 204, false, 0},
		{"429 with Retry-After", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(429)
		}, 429, true, 7 * time.Second},
		{"503", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }, 503, true, 0},
		{"408", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(408) }, 408, true, 0},
		{"404 permanent", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(404) }, 404, false, 0},
		{"410 permanent", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(410) }, 410, false, 0},
		{"redirect to a private address refused", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://10.0.0.1/hook", http.StatusTemporaryRedirect)
		}, 0, false, 0},
		{"redirect to plain http refused", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://example.com/hook", http.StatusFound)
		}, 0, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.handler)
			t.Cleanup(srv.Close)
			status, err := webhook.Deliver(context.Background(), client, srv.URL, "s", "batch.done", []byte(`{}`))
			require.Equal(t, tt.wantStatus, status)
			if tt.wantStatus >= 200 && tt.wantStatus < 300 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Equal(t, tt.retryable, webhook.Retryable(err), "%v", err)
			var we *webhook.Error
			require.True(t, errors.As(err, &we))
			require.Equal(t, tt.retryAfter, we.RetryAfter)
		})
	}

	t.Run("network errors are retryable", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		hang := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
		t.Cleanup(hang.Close)
		t.Cleanup(func() { close(release) })
		_, err := webhook.Deliver(context.Background(), client, hang.URL, "s", "batch.done", []byte(`{}`))
		require.True(t, webhook.Retryable(err), "timeout: %v", err)

		closed := httptest.NewServer(http.NotFoundHandler())
		url := closed.URL
		closed.Close()
		_, err = webhook.Deliver(context.Background(), client, url, "s", "batch.done", []byte(`{}`))
		require.True(t, webhook.Retryable(err), "connection refused: %v", err)
	})
}
