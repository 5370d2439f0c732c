// Package signedurl makes and checks expiring links: an HMAC-SHA256 over the
// path, the query that selects the content, the expiry and the user the link
// acts for, keyed with LUDENG_SECRET_KEY. A link grants read access to one
// resource until it expires, without a session (for sharing and for
// download managers that do not carry cookies).
package signedurl

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"time"

	"github.com/ludeng/ludeng/internal/fault"
)

// Errors returned by Verify.
var (
	ErrExpired = fault.New(fault.Gone, "link_expired", "This download link has expired; ask for a new one.")
	ErrInvalid = fault.New(fault.Forbidden, "link_invalid", "This download link is not valid.")
)

// Signer signs and verifies links.
type Signer struct {
	Key []byte
	Now func() time.Time
}

// MaxLifetime bounds how long a link may live.
const MaxLifetime = 30 * 24 * time.Hour

func (s Signer) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s Signer) mac(path, selector, userID string, exp int64) string {
	h := hmac.New(sha256.New, s.Key)
	h.Write([]byte("ludeng-link-v1\n" + path + "\n" + selector + "\n" + userID + "\n" + strconv.FormatInt(exp, 10)))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Sign returns the query (exp, uid, sig, plus selector as "size" when set)
// that makes path readable as userID until now+ttl.
func (s Signer) Sign(path, selector, userID string, ttl time.Duration) (url.Values, time.Time) {
	exp := s.now().Add(ttl).Truncate(time.Second)
	q := url.Values{}
	if selector != "" {
		q.Set("size", selector)
	}
	q.Set("exp", strconv.FormatInt(exp.Unix(), 10))
	q.Set("uid", userID)
	q.Set("sig", s.mac(path, selector, userID, exp.Unix()))
	return q, exp
}

// Present reports whether q carries a signature (the caller then must
// Verify it instead of asking for a session).
func Present(q url.Values) bool { return q.Get("sig") != "" }

// Verify checks q for path and returns the user the link acts for.
func (s Signer) Verify(path string, q url.Values) (userID string, err error) {
	exp, err := strconv.ParseInt(q.Get("exp"), 10, 64)
	if err != nil {
		return "", ErrInvalid
	}
	uid := q.Get("uid")
	want := s.mac(path, q.Get("size"), uid, exp)
	if !hmac.Equal([]byte(want), []byte(q.Get("sig"))) {
		return "", ErrInvalid
	}
	if s.now().Unix() > exp {
		return "", ErrExpired
	}
	return uid, nil
}
