// Package webhook signs and delivers outgoing webhook calls without letting
// a user-supplied URL reach the server's own network (SSRF).
//
// Signature: X-Ludeng-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
// "<t>.<body>")>, the scheme Stripe popularised: the timestamp is signed
// with the body, so a receiver that checks it within a tolerance also
// rejects replays. Several v1= entries may appear (secret rotation).
//
// SSRF guard: only https URLs (http only to loopback, and only when the
// test flag AllowHTTPLoopback is set), no proxy, and every connection's
// resolved IP is checked in net.Dialer.Control, after DNS and just before
// connect, so neither a hostname that resolves to an internal address nor
// DNS rebinding nor a redirect can reach private, loopback, link-local,
// multicast, unspecified, CGNAT or IPv6 ULA ranges.
//
// Retries belong to the caller (a River job): Deliver only classifies the
// outcome as success, retryable or permanent.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ludeng/ludeng/internal/config"
	"github.com/ludeng/ludeng/internal/fault"
)

// Header names of a delivery.
const (
	HeaderSignature = "X-Ludeng-Signature"
	HeaderEvent     = "X-Ludeng-Event"
	UserAgent       = "ludeng-webhook/1"
)

// DefaultTolerance is how old a signature Verify accepts by default.
const DefaultTolerance = 5 * time.Minute

// Sign returns the X-Ludeng-Signature value for body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verification errors.
var (
	ErrBadSignatureHeader = errors.New("webhook: malformed signature header")
	ErrSignatureMismatch  = errors.New("webhook: signature mismatch")
	ErrSignatureExpired   = errors.New("webhook: signature timestamp outside tolerance")
)

// Verify checks header (an X-Ludeng-Signature value) against body: one v1
// entry must match and t must be within tolerance of now (≤ 0 selects
// DefaultTolerance). Receivers in Go can use it as is; the docs show the
// same steps for other languages.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrBadSignatureHeader
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrBadSignatureHeader
	}
	want := mac(secret, ts, body)
	match := false
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			match = true
		}
	}
	if !match {
		return ErrSignatureMismatch
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrSignatureExpired
	}
	return nil
}

// NewSecret returns a fresh signing secret ("whsec_" + 32 random bytes,
// base64url), shown to the user once when the webhook is saved.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// Errors of the guard.
var (
	// ErrInvalidURL: not an absolute https URL (or http to loopback under the test flag).
	ErrInvalidURL = fault.New(fault.Invalid, "webhook_url_invalid",
		"The webhook URL must be an absolute https:// URL without credentials.")
	// ErrBlockedAddress: the URL's host is or resolves to an internal address.
	ErrBlockedAddress = fault.New(fault.Invalid, "webhook_url_blocked",
		"The webhook URL points to a private, loopback or otherwise internal address.")
)

// Defaults.
const (
	DefaultTimeout     = 15 * time.Second // whole delivery, body included
	DefaultDialTimeout = 5 * time.Second
	maxRedirects       = 3
	maxResponseBody    = 64 << 10 // read and discarded so connections are reused
)

// Config configures the guarded client.
type Config struct {
	// Timeout bounds one delivery (default 15 s). Env LUDENG_WEBHOOK_TIMEOUT.
	Timeout time.Duration
	// DialTimeout bounds connect (default 5 s).
	DialTimeout time.Duration
	// AllowHTTPLoopback lets http:// URLs and loopback addresses through, for
	// tests and local development only (default false). Env
	// LUDENG_WEBHOOK_ALLOW_HTTP_LOOPBACK.
	AllowHTTPLoopback bool
	// Resolver overrides DNS resolution (tests); nil uses the system resolver.
	Resolver *net.Resolver
}

// ConfigFromEnv reads LUDENG_WEBHOOK_TIMEOUT and LUDENG_WEBHOOK_ALLOW_HTTP_LOOPBACK.
func ConfigFromEnv(env *config.Env) Config {
	return Config{
		Timeout:           env.Duration("LUDENG_WEBHOOK_TIMEOUT", DefaultTimeout),
		AllowHTTPLoopback: env.Bool("LUDENG_WEBHOOK_ALLOW_HTTP_LOOPBACK", false),
	}
}

func (c Config) validate() error {
	if c.Timeout < 0 || c.DialTimeout < 0 {
		return errors.New("webhook: negative timeout")
	}
	return nil
}

// Client is the SSRF-guarded HTTP client every delivery must use.
type Client struct {
	// HTTP is the guarded client (exposed for the test-delivery route).
	HTTP *http.Client
	cfg  Config
	// Now stamps signatures; defaults to time.Now.
	Now func() time.Time
}

var errTooManyRedirects = errors.New("webhook: too many redirects")

// NewClient returns the guarded client.
func NewClient(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	dialer := &net.Dialer{
		Timeout:  cfg.DialTimeout,
		Resolver: cfg.Resolver,
		// Control runs for every connection attempt with the resolved
		// address, after DNS and before connect: the one place a hostname,
		// a rebinding DNS answer or a redirect cannot slip past.
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return ErrBlockedAddress.Wrap(err)
			}
			if Blocked(ap.Addr(), cfg.AllowHTTPLoopback) {
				return ErrBlockedAddress.With("address", ap.Addr().String())
			}
			return nil
		},
	}
	transport := &http.Transport{
		Proxy:                  nil, // a proxy would make us dial it, not the target
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    cfg.DialTimeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: 16 << 10,
		IdleConnTimeout:        30 * time.Second,
		MaxIdleConnsPerHost:    2,
	}
	return &Client{cfg: cfg, Now: time.Now, HTTP: &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return errTooManyRedirects
			}
			// The target's address is checked at dial time like any other.
			return CheckURL(req.URL.String(), cfg.AllowHTTPLoopback)
		},
	}}, nil
}

// CheckURL validates rawURL with this client's test flag.
func (c *Client) CheckURL(rawURL string) error { return CheckURL(rawURL, c.cfg.AllowHTTPLoopback) }

// CheckURL validates a webhook URL when it is saved and before each
// delivery: absolute https (http only to a loopback host when
// allowHTTPLoopback), no credentials, and a literal IP must not be blocked.
// Hostnames are checked again at dial time against what they resolve to.
func CheckURL(raw string, allowHTTPLoopback bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" {
		return ErrInvalidURL
	}
	host := u.Hostname()
	addr, literalErr := netip.ParseAddr(host)
	switch u.Scheme {
	case "https":
	case "http":
		loopback := host == "localhost" || (literalErr == nil && addr.Unmap().IsLoopback())
		if !allowHTTPLoopback || !loopback {
			return ErrInvalidURL
		}
	default:
		return ErrInvalidURL
	}
	if literalErr == nil && Blocked(addr, allowHTTPLoopback) {
		return ErrBlockedAddress.With("address", addr.String())
	}
	return nil
}

// blockedPrefixes are the ranges netip's predicates do not cover.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // CGNAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, incl. broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: embeds an IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("2002::/16"),       // 6to4: embeds an IPv4 address
}

// Blocked reports whether a webhook may not connect to addr: private
// (10/8, 172.16/12, 192.168/16, fc00::/7 ULA), loopback, link-local
// (169.254/16 incl. cloud metadata, fe80::/10), multicast, unspecified,
// CGNAT and the reserved ranges above. IPv4-mapped IPv6 is judged as IPv4.
// allowLoopback (the test flag) lets loopback through.
func Blocked(addr netip.Addr, allowLoopback bool) bool {
	addr = addr.Unmap()
	if !addr.IsValid() {
		return true
	}
	if addr.IsLoopback() {
		return !allowLoopback
	}
	if addr.IsPrivate() || addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() ||
		addr.IsInterfaceLocalMulticast() || addr.IsMulticast() || addr.IsUnspecified() {
		return true
	}
	for _, p := range blockedPrefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Error is a failed delivery.
type Error struct {
	// Status is the HTTP status, 0 when no response arrived.
	Status int
	// Retryable: 5xx, 408, 429 and network errors; the caller retries with
	// backoff. Other failures (4xx, 3xx, blocked or invalid URL) are
	// permanent: retrying cannot help until the user fixes the endpoint.
	Retryable bool
	// RetryAfter is the receiver's Retry-After on 429/503, 0 otherwise.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	kind := "permanent"
	if e.Retryable {
		kind = "retryable"
	}
	if e.Status != 0 {
		return fmt.Sprintf("webhook: %s failure: HTTP %d", kind, e.Status)
	}
	return fmt.Sprintf("webhook: %s failure: %v", kind, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether err (from Deliver) is worth retrying.
func Retryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

// Deliver POSTs body (JSON) to rawURL with the event name and a signature
// made with secret, through client (from NewClient). It returns the HTTP
// status (0 without a response) and nil for 2xx, else an *Error saying
// whether a retry may help. The body should carry a unique id so receivers
// can ignore a retried delivery they already processed.
func Deliver(ctx context.Context, client *Client, rawURL, secret, event string, body []byte) (int, error) {
	if err := client.CheckURL(rawURL); err != nil {
		return 0, &Error{Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return 0, &Error{Err: ErrInvalidURL.Wrap(err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderEvent, event)
	req.Header.Set(HeaderSignature, Sign(secret, client.Now(), body))
	resp, err := client.HTTP.Do(req)
	if err != nil {
		// A blocked or invalid target (possibly reached through a redirect)
		// stays blocked; timeouts, refused connections, resets and TLS
		// failures may heal.
		if fault.As(err) != nil || errors.Is(err, errTooManyRedirects) {
			return 0, &Error{Err: err}
		}
		return 0, &Error{Retryable: true, Err: err}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody))
	s := resp.StatusCode
	switch {
	case s >= 200 && s < 300:
		return s, nil
	case s == http.StatusTooManyRequests || s == http.StatusRequestTimeout || s >= 500:
		return s, &Error{Status: s, Retryable: true, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), client.Now())}
	default:
		return s, &Error{Status: s}
	}
}

// retryAfter parses delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
