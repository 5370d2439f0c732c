package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/auth"
	"github.com/ludeng/ludeng/internal/httpapi"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/store/storetest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type testBundle struct {
	db       *store.DB
	srv      *httptest.Server
	api      *httpapi.Server
	clock    *clock
	registry *prometheus.Registry
}

func setup(t *testing.T, engine store.Engine, opts ...func(*httpapi.Config, *httpapi.Deps)) *testBundle {
	t.Helper()
	db := storetest.Open(t, engine)
	clk := &clock{t: time.Now()}
	reg := prometheus.NewRegistry()
	cfg := httpapi.Config{DataDir: t.TempDir(), PasswordParams: auth.TestParams, Version: "test", APIRate: 1000, APIBurst: 1000}
	deps := httpapi.Deps{DB: db, Registry: reg, Now: clk.Now}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	api := newAPI(t, cfg, deps)
	srv := httptest.NewServer(validating(t, api.Handler()))
	t.Cleanup(srv.Close)
	return &testBundle{db: db, srv: srv, api: api, clock: clk, registry: reg}
}

// newAPI builds the server with everything it serves given in deps.
func newAPI(t *testing.T, cfg httpapi.Config, deps httpapi.Deps) *httpapi.Server {
	t.Helper()
	api, err := httpapi.New(cfg, deps)
	require.NoError(t, err)
	return api
}

func testParams() auth.Params { return auth.TestParams }

func (b *testBundle) registry2() *prometheus.Registry {
	b.registry = prometheus.NewRegistry()
	return b.registry
}

// replace serves api instead of the server setup built.
func (b *testBundle) replace(t *testing.T, api *httpapi.Server) {
	t.Helper()
	if b.srv != nil {
		b.srv.Close()
	}
	b.api = api
	b.srv = httptest.NewServer(validating(t, api.Handler()))
	t.Cleanup(b.srv.Close)
}

func (b *testBundle) createUser(t *testing.T, name, role string) *store.User {
	t.Helper()
	hash, err := auth.Hash("password-"+name, auth.TestParams)
	require.NoError(t, err)
	var u *store.User
	require.NoError(t, b.db.InTx(context.Background(), func(tx *store.Tx) error {
		u, err = b.db.CreateUser(context.Background(), tx, name, hash, role)
		return err
	}))
	return u
}

// client is a cookie-keeping HTTP client that behaves like a same-origin browser.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
	// origin, when set, is sent as Origin (and Sec-Fetch-Site is derived from it).
	origin string
	bearer string
}

func (b *testBundle) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: b.srv.URL, hc: &http.Client{Jar: jar}, origin: b.srv.URL}
}

func (b *testBundle) login(t *testing.T, name string) *client {
	t.Helper()
	c := b.client(t)
	res := c.do("POST", "/api/v1/auth/login", map[string]string{"username": name, "password": "password-" + name})
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	return c
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), string(r.body))
	return m
}

func (c *client) do(method, path string, body any) response {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = bytes.NewBufferString(s)
		} else {
			b, err := json.Marshal(body)
			require.NoError(c.t, err)
			rd = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(c.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.origin != "" && method != "GET" && method != "HEAD" {
		req.Header.Set("Origin", c.origin)
		if c.origin == c.base {
			req.Header.Set("Sec-Fetch-Site", "same-origin")
		} else {
			req.Header.Set("Sec-Fetch-Site", "cross-site")
		}
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	res, err := c.hc.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	return response{status: res.StatusCode, header: res.Header, body: b}
}
