package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	legacyrouter "github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/httpapi"
	"github.com/ludeng/ludeng/internal/store"
)

// The contract: every response the test servers of this package send under
// /api/ is validated against the served OpenAPI document (status listed,
// content type, body schema). A violation fails the test that made the
// request. After the whole package has run, every operation of the document
// must have been seen answering at least once with success and once with an
// error (when it documents one): TestMain checks it.

type contractChecker struct {
	doc    *openapi3.T
	router routers.Router

	mu   sync.Mutex
	seen map[string]*opSeen // by operationId
}

type opSeen struct{ ok, failed int }

func loadContract(raw []byte) (*contractChecker, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate document: %w", err)
	}
	router, err := legacyrouter.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	return &contractChecker{doc: doc, router: router, seen: map[string]*opSeen{}}, nil
}

var contract = sync.OnceValue(func() *contractChecker {
	c, err := loadContract(httpapi.OpenAPIDocument())
	if err != nil {
		panic("openapi document: " + err.Error())
	}
	return c
})

// check validates one real exchange; it returns nil for paths outside the
// document. The response is always checked. The request is checked when the
// server accepted it (2xx/3xx): an accepted request the document calls
// invalid means the document no longer describes what the API takes (a
// rejected one is usually a test of bad input, and its problem answer is
// what the response check covers). reqBody is the JSON body, nil for others.
func (c *contractChecker) check(req *http.Request, reqBody []byte, status int, header http.Header, body []byte) error {
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		if strings.HasPrefix(req.URL.Path, "/api/") && status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
			return fmt.Errorf("%s %s answered %d but is not in the document", req.Method, req.URL.Path, status)
		}
		return nil
	}
	req = req.Clone(req.Context())
	req.Body = http.NoBody
	if reqBody != nil {
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, ExcludeRequestBody: reqBody == nil}}
	if status < 400 {
		if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
			return fmt.Errorf("%s %s was accepted (%d) but the request does not match the OpenAPI document: %w\nrequest body: %.2000s", req.Method, req.URL.Path, status, err, reqBody)
		}
		if reqBody != nil {
			req.Body = io.NopCloser(bytes.NewReader(reqBody))
		}
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true}
	ct, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
	if status == http.StatusNotModified || (ct != "application/json" && ct != "application/problem+json") {
		// Binary bodies (zips, images) are checked for status and content type only.
		opts.ExcludeResponseBody = true
	}
	err = openapi3filter.ValidateResponse(req.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)), Options: opts,
	})
	c.mu.Lock()
	s := c.seen[route.Operation.OperationID]
	if s == nil {
		s = &opSeen{}
		c.seen[route.Operation.OperationID] = s
	}
	if err == nil {
		if status < 400 {
			s.ok++
		} else {
			s.failed++
		}
	}
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%s %s → %d does not match the OpenAPI document: %w\nbody: %.2000s", req.Method, req.URL.Path, status, err, body)
	}
	return nil
}

// notYetCovered are operations the contract check cannot see by nature:
// the WebSocket upgrade and River UI are not JSON APIs (their own tests
// cover them). Every other operation must be seen succeeding and failing.
var notYetCovered = map[string]string{
	"liveStream":    "WebSocket upgrade: the ws protocol tests cover it",
	"riverUI":       "River UI (HTML, third-party)",
	"riverUIAction": "River UI (HTML, third-party)",
}

// missing lists operations never seen succeeding, or never seen failing
// although they document a 4xx.
func (c *contractChecker) missing() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if _, ok := notYetCovered[op.OperationID]; ok {
				continue
			}
			s := c.seen[op.OperationID]
			if s == nil || s.ok == 0 {
				out = append(out, fmt.Sprintf("%s %s (%s): no success response validated", method, path, op.OperationID))
			}
			documentsError := false
			for code := range op.Responses.Map() {
				documentsError = documentsError || strings.HasPrefix(code, "4")
			}
			if documentsError && (s == nil || s.failed == 0) {
				out = append(out, fmt.Sprintf("%s %s (%s): no error response validated", method, path, op.OperationID))
			}
		}
	}
	sort.Strings(out)
	return out
}

// recorder tees a response for validation; it keeps Flush and Hijack (zips,
// WebSockets) working.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body.Len() < 4<<20 {
		r.body.Write(b)
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// validating wraps a test server's handler with the contract check.
func validating(t *testing.T, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") || r.Header.Get("Upgrade") != "" {
			h.ServeHTTP(w, r)
			return
		}
		// A JSON request body is kept for the request check (the handler
		// consumes it); others (multipart uploads) are checked for route and
		// parameters only.
		var reqBody []byte
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/json" && r.Body != nil {
			b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				t.Errorf("contract: read request body: %v", err)
			}
			reqBody = b
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		if err := contract().check(r, reqBody, rec.status, w.Header(), rec.body.Bytes()); err != nil {
			t.Errorf("contract: %v", err)
		}
	})
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	// Coverage is judged only on a full run of the package.
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && !testing.Short() {
		if miss := contract().missing(); len(miss) > 0 {
			fmt.Fprintf(os.Stderr, "contract coverage: %d operations of the OpenAPI document were not exercised by this package's tests:\n  %s\n",
				len(miss), strings.Join(miss, "\n  "))
			code = 1
		}
	}
	os.Exit(code)
}

// TestOpenAPIGenerated fails when openapi.gen.json is not what the Go types
// of Contract() generate. LUDENG_UPDATE_OPENAPI=1 rewrites it.
func TestOpenAPIGenerated(t *testing.T) {
	want := httpapi.Contract().JSON()
	if os.Getenv("LUDENG_UPDATE_OPENAPI") == "1" {
		require.NoError(t, os.WriteFile("openapi.gen.json", want, 0o644))
	}
	got, err := os.ReadFile("openapi.gen.json")
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "openapi.gen.json is stale: run LUDENG_UPDATE_OPENAPI=1 go test ./internal/httpapi -run TestOpenAPIGenerated")
}

// TestContractErrorResponses makes every documented operation fail once the
// way any caller can: anonymously (401) for protected routes, with an
// unknown id (404) or a malformed body (400) for public ones. Their success
// responses come from the feature tests of this package.
func TestContractErrorResponses(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setupBatches(t, engine, batchOpts{})
		anon := b.client(t)
		for path, item := range contract().doc.Paths.Map() {
			for method := range item.Operations() {
				p := strings.NewReplacer("{id}", "00000000-0000-7000-8000-000000000000", "{gid}", "00000000-0000-7000-8000-000000000001",
					"{secret}", "wrong-secret", "{region}", "000000", "{name}", "nope", "{key}", "nope").Replace(path)
				var body any
				if method == "POST" || method == "PUT" || method == "PATCH" {
					body = "{not json"
				}
				res := anon.do(method, p, body)
				require.GreaterOrEqual(t, res.status, 200, "%s %s", method, p)
			}
		}
	})
}

// TestContractDetectsMismatch shows the check has teeth: a real response
// that matches the document fails once the document's schema is changed.
func TestContractDetectsMismatch(t *testing.T) {
	b := setup(t, store.SQLite)
	b.createUser(t, "ann", store.RoleOperator)
	c := b.login(t, "ann")
	res := c.do("GET", "/api/v1/auth/me", nil)
	require.Equal(t, http.StatusOK, res.status)
	req, err := http.NewRequest("GET", "/api/v1/auth/me", nil) // as a server sees it: path only
	require.NoError(t, err)

	good, err := loadContract(httpapi.OpenAPIDocument())
	require.NoError(t, err)
	require.NoError(t, good.check(req, nil, res.status, res.header, res.body))

	var doc map[string]any
	require.NoError(t, json.Unmarshal(httpapi.OpenAPIDocument(), &doc))
	user := doc["components"].(map[string]any)["schemas"].(map[string]any)["User"].(map[string]any)
	user["properties"].(map[string]any)["username"] = map[string]any{"type": "integer"}
	mutated, err := json.Marshal(doc)
	require.NoError(t, err)
	bad, err := loadContract(mutated)
	require.NoError(t, err)
	err = bad.check(req, nil, res.status, res.header, res.body)
	require.Error(t, err)
	require.Contains(t, err.Error(), "username")

	// An undocumented status fails too.
	require.Error(t, good.check(req, nil, http.StatusTeapot, res.header, res.body))

	// A request the document calls invalid fails when the server accepted
	// it, and not when the server refused it (a bad-input test).
	login, err := http.NewRequest("POST", "/api/v1/auth/login", nil)
	require.NoError(t, err)
	login.Header.Set("Content-Type", "application/json")
	noBody := http.Header{}
	err = good.check(login, []byte(`{"username":7}`), http.StatusNoContent, noBody, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "was accepted")
	problem := http.Header{"Content-Type": []string{"application/problem+json"}}
	require.NoError(t, good.check(login, []byte(`{"username":7}`), http.StatusBadRequest, problem,
		[]byte(`{"type":"about:blank","title":"Bad Request","status":400,"detail":"x","code":"bad_json"}`)))
}

// TestPostKitTonesListed: the tone presets are listed, the default first.
func TestPostKitTonesListed(t *testing.T) {
	b := setupBatches(t, store.SQLite, batchOpts{})
	b.createUser(t, "ann", store.RoleOperator)
	res := b.login(t, "ann").do("GET", "/api/v1/post-kit/tones", nil)
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	items := res.json(t)["items"].([]any)
	require.NotEmpty(t, items)
	require.NotEmpty(t, items[0].(map[string]any)["id"])
}
