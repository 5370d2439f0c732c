// Package fault is the error vocabulary shared by every ludeng package.
//
// Domain packages return *fault.Error values (or wrap them with %w) to say what
// kind of failure happened and which stable machine code the client sees. The
// HTTP layer maps the Kind to a status in exactly one place
// (httpapi.writeProblem); nothing else decides statuses. Errors that are not
// *fault.Error are internal: they become a 500 whose body hides the cause.
package fault

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the transport layer.
type Kind int

// The kinds. Their HTTP statuses are fixed in httpapi.
const (
	Internal            Kind = iota // 500, cause hidden
	Invalid                         // 400 malformed request
	Unauthenticated                 // 401
	Forbidden                       // 403 (own resource, insufficient role)
	NotFound                        // 404 (also for other users' resources)
	Conflict                        // 409
	Gone                            // 410
	TooLarge                        // 413
	Unsupported                     // 415
	Unprocessable                   // 422 well-formed but semantically wrong
	RateLimited                     // 429
	PaymentRequired                 // 402 (budget exceeded)
	Unavailable                     // 503 (dependency down)
	InsufficientStorage             // 507 (disk guard)
	Timeout                         // 504
)

// Error is a classified, client-presentable error.
type Error struct {
	Kind Kind
	// Code is a stable snake_case identifier the UI translates, e.g. "upload_too_large".
	Code string
	// Detail is a human sentence in English; safe to show to the user.
	Detail string
	// Params are machine-readable values the UI interpolates (limits, names…).
	Params map[string]any
	// RetryAfter, when > 0, is sent as Retry-After seconds.
	RetryAfter int
	// Err is the underlying cause; logged, never sent to the client.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Detail, e.Err)
	}
	return e.Code + ": " + e.Detail
}

func (e *Error) Unwrap() error { return e.Err }

// New returns a classified error.
func New(k Kind, code, detail string) *Error {
	return &Error{Kind: k, Code: code, Detail: detail}
}

// Newf is New with a formatted detail.
func Newf(k Kind, code, format string, args ...any) *Error {
	return &Error{Kind: k, Code: code, Detail: fmt.Sprintf(format, args...)}
}

// With returns a copy of e with a parameter added.
func (e *Error) With(key string, value any) *Error {
	c := *e
	c.Params = make(map[string]any, len(e.Params)+1)
	for k, v := range e.Params {
		c.Params[k] = v
	}
	c.Params[key] = value
	return &c
}

// Wrap returns a copy of e carrying cause as its hidden underlying error.
func (e *Error) Wrap(cause error) *Error {
	c := *e
	c.Err = cause
	return &c
}

// Is makes errors.Is match two *Error values by Code, so sentinels such as
// store.ErrNotFound work after With/Wrap copies.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Code == e.Code
	}
	return false
}

// As returns the first *Error in err's chain, or nil.
func As(err error) *Error {
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	return nil
}

// KindOf returns the Kind of err, Internal when it is not classified.
func KindOf(err error) Kind {
	if fe := As(err); fe != nil {
		return fe.Kind
	}
	return Internal
}
