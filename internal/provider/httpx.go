package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// maxBody bounds a provider answer: a 4K PNG in base64 is ~40 MB.
const maxBody = 64 << 20

// rawImage is one backend answer before normalisation and pricing.
type rawImage struct {
	data         []byte
	mime         string
	inputTokens  int64
	outputTokens int64
}

// backend is one provider API, one attempt per call; Service adds retries,
// limits, breaker, ledger and metrics around it.
type backend interface {
	generate(ctx context.Context, req Request, tier Tier) (rawImage, error)
	// probe checks reachability and credentials without spending anything.
	probe(ctx context.Context) error
}

// NewHTTPClient returns the client used when Deps.HTTPClient is nil. Each
// operation's deadline comes from its context; the client's own Timeout is a
// last-resort ceiling above every per-operation timeout.
func NewHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Minute,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   15 * time.Second,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
			ForceAttemptHTTP2:     true,
		},
	}
}

// httpCall is one prepared request.
type httpCall struct {
	method  string
	url     string
	header  http.Header
	body    io.Reader
	jsonIn  any
	maxBody int64
}

// httpAnswer is a read answer.
type httpAnswer struct {
	status int
	header http.Header
	body   []byte
}

// do sends the call and reads the whole body. Transport failures and
// timeouts come back as ClassUnavailable errors; HTTP statuses are left to
// the caller, which knows the API's error shapes.
func do(ctx context.Context, hc *http.Client, c httpCall) (httpAnswer, error) {
	body := c.body
	if c.jsonIn != nil {
		b, err := json.Marshal(c.jsonIn)
		if err != nil {
			return httpAnswer{}, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, body)
	if err != nil {
		return httpAnswer{}, &Error{Class: ClassBadRequest, Code: "bad_url", Err: err}
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if c.jsonIn != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return httpAnswer{}, transportError(ctx, err)
	}
	defer resp.Body.Close()
	limit := c.maxBody
	if limit <= 0 {
		limit = maxBody
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return httpAnswer{}, transportError(ctx, err)
	}
	if int64(len(b)) > limit {
		return httpAnswer{}, &Error{Class: ClassUnavailable, Status: resp.StatusCode, Code: "response_too_large"}
	}
	return httpAnswer{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// transportError classifies a failure below HTTP. The caller's own
// cancellation is returned as is so it is never retried or counted against
// the provider.
func transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	code := "transport"
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		code = "timeout"
	}
	return &Error{Class: ClassUnavailable, Code: code, Err: stripURL(err)}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// stripURL drops the URL from *url.Error: Gemini accepts ?key=, and a key in
// a URL must never reach a log.
func stripURL(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// retryAfter parses Retry-After (seconds or an HTTP date) and also the
// retry-after-ms header some OpenAI-compatible relays send.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if ms := h.Get("Retry-After-Ms"); ms != "" {
		if f, err := strconv.ParseFloat(ms, 64); err == nil && f > 0 {
			return time.Duration(f * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f <= 0 {
			return 0
		}
		return time.Duration(f * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// malformed is the error for an answer we cannot parse: retried like a 5xx.
func malformed(status int, err error) *Error {
	return &Error{Class: ClassUnavailable, Status: status, Code: "malformed_response", Err: err}
}

// statusClass is the fallback mapping for statuses an API doesn't explain.
func statusClass(status int) Class {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ClassAuth
	case status == http.StatusNotFound:
		return ClassModelGone
	case status == http.StatusPaymentRequired:
		return ClassQuotaExhausted
	case status == http.StatusTooManyRequests:
		return ClassRateLimited
	case status == http.StatusRequestTimeout || status >= 500:
		return ClassUnavailable
	}
	return ClassBadRequest
}

// openAIError is the {"error":{...}} body of OpenAI, DeepSeek and OpenRouter.
// OpenRouter sends code as a number, OpenAI as a string.
type openAIError struct {
	Error *struct {
		Message  string          `json:"message"`
		Type     string          `json:"type"`
		Code     json.RawMessage `json:"code"`
		Param    *string         `json:"param"`
		Metadata json.RawMessage `json:"metadata"`
	} `json:"error"`
}

// parseOpenAIError returns message, type and code (as text) of an
// OpenAI-style error body; empty strings when the body has another shape.
func parseOpenAIError(body []byte) (msg, typ, code string) {
	var e openAIError
	if json.Unmarshal(body, &e) != nil || e.Error == nil {
		return "", "", ""
	}
	code = string(e.Error.Code)
	if s, err := strconv.Unquote(code); err == nil {
		code = s
	}
	if code == "null" {
		code = ""
	}
	return e.Error.Message, e.Error.Type, code
}

// decodeDataURL splits "data:image/png;base64,...." into mime and bytes.
func decodeDataURL(s string) (mime string, data []byte, ok bool) {
	rest, found := cutPrefixFold(s, "data:")
	if !found {
		return "", nil, false
	}
	meta, payload, found := cut(rest, ",")
	if !found {
		return "", nil, false
	}
	mime, _, _ = cut(meta, ";")
	data, err := decodeBase64(payload)
	if err != nil {
		return "", nil, false
	}
	return mime, data, true
}
