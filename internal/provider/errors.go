package provider

import (
	"errors"
	"fmt"
	"time"

	"github.com/ludeng/ludeng/internal/fault"
)

// Class is the provider-independent kind of a failed call. Every client maps
// its API's statuses and bodies onto these, and the retry, breaker and
// fallback rules are written once against them.
type Class int

// The classes.
const (
	// ClassUnavailable: 5xx, timeouts, connection errors, malformed answers.
	// Retried with backoff; counts against the circuit breaker.
	ClassUnavailable Class = iota
	// ClassBlocked: the safety system refused this prompt or its output.
	// Permanent for this prompt: never retried, never sent to a fallback.
	ClassBlocked
	// ClassNoImage: a well-formed answer without an image. Retried once.
	ClassNoImage
	// ClassRateLimited: slow down; RetryAfter says how long when known.
	ClassRateLimited
	// ClassQuotaExhausted: daily quota or insufficient balance. The provider
	// gets no calls until Until; work goes to the fallback.
	ClassQuotaExhausted
	// ClassAuth: bad or revoked key, or the API refuses this location.
	ClassAuth
	// ClassBadRequest: the provider rejected the request as malformed.
	ClassBadRequest
	// ClassModelGone: the configured model does not exist (any more).
	ClassModelGone
)

var classNames = [...]string{
	ClassUnavailable:    "unavailable",
	ClassBlocked:        "blocked",
	ClassNoImage:        "no_image",
	ClassRateLimited:    "rate_limited",
	ClassQuotaExhausted: "quota_exhausted",
	ClassAuth:           "auth",
	ClassBadRequest:     "bad_request",
	ClassModelGone:      "model_gone",
}

// String is the snake_case name used in metrics, ledger outcomes and status.
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class_%d", int(c))
}

// Error is a classified provider failure. Use errors.As to get it, or
// errors.Is against the Err* sentinels to test the class.
type Error struct {
	Class Class
	// Provider is the configured provider name (gemini, openai…).
	Provider string
	// Status is the HTTP status, 0 when the failure was not an HTTP answer.
	Status int
	// Code is the provider's own code (RESOURCE_EXHAUSTED, moderation_blocked, 402…)
	// or one of ours (timeout, circuit_open, malformed_response).
	Code string
	// Message is the provider's message, truncated; for operators, not users.
	Message string
	// RetryAfter is the server's requested delay (Retry-After, RetryInfo).
	RetryAfter time.Duration
	// Until is when an exhausted quota resets (ClassQuotaExhausted).
	Until time.Time
	// Err is the underlying cause, if any.
	Err error
}

// Sentinels for errors.Is: they match any *Error of the same class.
var (
	ErrUnavailable    = &Error{Class: ClassUnavailable}
	ErrBlocked        = &Error{Class: ClassBlocked}
	ErrNoImage        = &Error{Class: ClassNoImage}
	ErrRateLimited    = &Error{Class: ClassRateLimited}
	ErrQuotaExhausted = &Error{Class: ClassQuotaExhausted}
	ErrAuth           = &Error{Class: ClassAuth}
	ErrBadRequest     = &Error{Class: ClassBadRequest}
	ErrModelGone      = &Error{Class: ClassModelGone}
)

func (e *Error) Error() string {
	s := e.Class.String()
	if e.Provider != "" {
		s = e.Provider + ": " + s
	}
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches another *Error by Class, so errors.Is(err, ErrBlocked) works.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Class == e.Class
	}
	return false
}

// ClassOf returns the class of err and whether err is a provider *Error.
func ClassOf(err error) (Class, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Class, true
	}
	return 0, false
}

// Fault converts the error into the client-visible vocabulary. Causes and
// provider messages stay hidden; only the class, provider and timing show.
func (e *Error) Fault() *fault.Error {
	var f *fault.Error
	switch e.Class {
	case ClassBlocked:
		f = fault.New(fault.Unprocessable, "image_blocked", "The image provider's safety system refused this scene.")
	case ClassNoImage:
		f = fault.New(fault.Unavailable, "image_not_generated", "The image provider answered without an image.")
	case ClassRateLimited:
		f = fault.New(fault.RateLimited, "provider_rate_limited", "The image provider is rate limiting; try again shortly.")
		f.RetryAfter = int((e.RetryAfter + time.Second - 1) / time.Second)
	case ClassQuotaExhausted:
		f = fault.New(fault.Unavailable, "provider_quota_exhausted", "The image provider's quota or balance is exhausted.")
		if !e.Until.IsZero() {
			f = f.With("until", e.Until.UTC().Format(time.RFC3339))
		}
	case ClassAuth:
		f = fault.New(fault.Unavailable, "provider_auth_failed", "The image provider refused ludeng's credentials.")
	case ClassBadRequest:
		f = fault.New(fault.Unavailable, "provider_bad_request", "The image provider rejected the request.")
	case ClassModelGone:
		f = fault.New(fault.Unavailable, "provider_model_gone", "The configured image model is not available.")
	default:
		f = fault.New(fault.Unavailable, "provider_unavailable", "The image provider is unavailable.")
	}
	if e.Provider != "" {
		f = f.With("provider", e.Provider)
	}
	return f.Wrap(e)
}

// truncate keeps provider messages short in errors, logs and status.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
