package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/ludeng/ludeng/internal/fault"
)

// statusOf is the one place where error kinds become HTTP statuses.
func statusOf(k fault.Kind) int {
	switch k {
	case fault.Invalid:
		return http.StatusBadRequest
	case fault.Unauthenticated:
		return http.StatusUnauthorized
	case fault.PaymentRequired:
		return http.StatusPaymentRequired
	case fault.Forbidden:
		return http.StatusForbidden
	case fault.NotFound:
		return http.StatusNotFound
	case fault.Conflict:
		return http.StatusConflict
	case fault.Gone:
		return http.StatusGone
	case fault.TooLarge:
		return http.StatusRequestEntityTooLarge
	case fault.Unsupported:
		return http.StatusUnsupportedMediaType
	case fault.Unprocessable:
		return http.StatusUnprocessableEntity
	case fault.RateLimited:
		return http.StatusTooManyRequests
	case fault.Unavailable:
		return http.StatusServiceUnavailable
	case fault.InsufficientStorage:
		return http.StatusInsufficientStorage
	case fault.Timeout:
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}

// Problem is an RFC 9457 problem document with ludeng's extensions.
type Problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail"`
	Code      string         `json:"code"`
	Params    map[string]any `json:"params,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
	Instance  string         `json:"instance,omitempty"`
}

// writeProblem maps err to a problem+json response. Unclassified errors are
// logged with their cause and answered with a generic 500 that names only the
// request id, so internals never reach the client.
func (s *Server) writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	fe := fault.As(err)
	if errors.Is(err, errBodyTooLarge) {
		fe = fault.New(fault.TooLarge, "body_too_large", "The request body is too large.")
	}
	if fe == nil {
		fe = fault.New(fault.Internal, "internal_error", "An internal error occurred. Quote the request id when reporting it.")
	}
	status := statusOf(fe.Kind)
	reqID := requestIDFrom(r.Context())
	if status >= 500 {
		s.logger.ErrorContext(r.Context(), "request failed", slog.String("request_id", reqID),
			slog.String("code", fe.Code), slog.Any("error", err))
	} else if fe.Err != nil {
		s.logger.DebugContext(r.Context(), "request refused", slog.String("request_id", reqID),
			slog.String("code", fe.Code), slog.Any("error", fe.Err))
	}
	detail := fe.Detail
	if fe.Kind == fault.Internal {
		detail = "An internal error occurred. Quote the request id when reporting it."
	}
	p := Problem{
		Type:      "https://ludeng.dev/problems/" + fe.Code,
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    detail,
		Code:      fe.Code,
		Params:    fe.Params,
		RequestID: reqID,
		Instance:  r.URL.Path,
	}
	if fe.Kind == fault.Internal {
		p.Params = nil
	}
	if fe.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(fe.RetryAfter))
	}
	if fe.Kind == fault.Unauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ludeng"`)
	}
	s.metrics.errors.WithLabelValues(fe.Code).Inc()
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// writeJSONTagged writes v with 200 and a strong ETag over the encoded
// body, and answers 304 without a body when If-None-Match already names
// it: polling clients revalidate instead of downloading an unchanged view.
// Cache-Control no-cache (not no-store) lets browsers keep the copy to
// revalidate.
func writeJSONTagged(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "private, no-cache")
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(append(body, '\n'))
	return err
}

// etagMatch applies If-None-Match's weak comparison (RFC 9110 §13.1.2).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

var errBodyTooLarge = errors.New("body too large")

// decodeJSON strictly decodes the request body into v: unknown fields and
// trailing data are client errors, so typos in field names do not silently
// fall back to defaults.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			// An empty body is an empty object; validation names what is missing.
			return nil
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errBodyTooLarge
		}
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return fault.Newf(fault.Invalid, "invalid_json", "Field %q has the wrong type.", ute.Field).With("field", ute.Field)
		}
		return fault.New(fault.Invalid, "invalid_json", "The request body is not valid JSON for this operation: "+err.Error()).Wrap(err)
	}
	if dec.More() {
		return fault.New(fault.Invalid, "invalid_json", "The request body has trailing data.")
	}
	return nil
}
