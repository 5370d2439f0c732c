// Package signedurl makes and checks expiring links: an HMAC-SHA256 over the
// path, the query that selects the content, the expiry and the user the link
// acts for, and that user's link generation, keyed with LUDENG_SECRET_KEY. A
// link grants read access to one resource until it expires, without a
// session (for sharing and for download managers that do not carry cookies).
// The generation lets the user void every link at once: logging out
// everywhere, a password change and disabling the account bump it, and the
// caller compares it with the user's current one.
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

// mac signs a link. Version 1 links (before generations) had no "g"
// parameter; they are still accepted, as generation 0, until they expire.
func (s Signer) mac(path, selector, userID string, exp int64, gen string) string {
	h := hmac.New(sha256.New, s.Key)
	if gen == "" {
		h.Write([]byte("ludeng-link-v1\n" + path + "\n" + selector + "\n" + userID + "\n" + strconv.FormatInt(exp, 10)))
	} else {
		h.Write([]byte("ludeng-link-v2\n" + path + "\n" + selector + "\n" + userID + "\n" + strconv.FormatInt(exp, 10) + "\n" + gen))
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Sign returns the query (exp, uid, g, sig, plus selector as "size" when
// set) that makes path readable as userID, at link generation gen, until
// now+ttl.
func (s Signer) Sign(path, selector, userID string, gen int64, ttl time.Duration) (url.Values, time.Time) {
	exp := s.now().Add(ttl).Truncate(time.Second)
	g := strconv.FormatInt(gen, 10)
	q := url.Values{}
	if selector != "" {
		q.Set("size", selector)
	}
	q.Set("exp", strconv.FormatInt(exp.Unix(), 10))
	q.Set("uid", userID)
	q.Set("g", g)
	q.Set("sig", s.mac(path, selector, userID, exp.Unix(), g))
	return q, exp
}

// Present reports whether q carries a signature (the caller then must
// Verify it instead of asking for a session).
func Present(q url.Values) bool { return q.Get("sig") != "" }

// Verify checks q for path and returns the user the link acts for and the
// link generation it was signed at; the caller must refuse the link
// (ErrInvalid) when that is not the user's current generation.
func (s Signer) Verify(path string, q url.Values) (userID string, gen int64, err error) {
	exp, err := strconv.ParseInt(q.Get("exp"), 10, 64)
	if err != nil {
		return "", 0, ErrInvalid
	}
	g := q.Get("g")
	if g != "" {
		if gen, err = strconv.ParseInt(g, 10, 64); err != nil {
			return "", 0, ErrInvalid
		}
	}
	uid := q.Get("uid")
	want := s.mac(path, q.Get("size"), uid, exp, g)
	if !hmac.Equal([]byte(want), []byte(q.Get("sig"))) {
		return "", 0, ErrInvalid
	}
	if s.now().Unix() > exp {
		return "", 0, ErrExpired
	}
	return uid, gen, nil
}
