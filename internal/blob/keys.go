package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/ludeng/ludeng/internal/fault"
)

// Key prefixes of the layouts this package defines.
const (
	ContentPrefix = "blobs/sha256/"
	VariantPrefix = "variants/sha256/"
	ResultPrefix  = "results/"
)

// Variant names for derived sizes.
const (
	VariantThumb   = "thumb.jpg"
	VariantPreview = "preview.jpg"
)

// ValidSHA256 reports whether s is a lowercase hex SHA-256.
func ValidSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ContentKey returns the key of content with the given SHA-256:
// blobs/sha256/ab/cd/<hash>. Two levels of 256 fan out keep every local
// directory small even with millions of uploads.
func ContentKey(sum string) string {
	return ContentPrefix + sum[:2] + "/" + sum[2:4] + "/" + sum
}

// VariantKey returns the key of a derived size of content sum, e.g.
// variants/sha256/ab/cd/<hash>/thumb.jpg. Variants hang off the original's
// hash so they are generated once per content and found without a lookup.
func VariantKey(sum, name string) string {
	return VariantPrefix + sum[:2] + "/" + sum[2:4] + "/" + sum + "/" + name
}

// ResultKey returns results/<batch>/<group>/<image>.<ext>.
func ResultKey(batch, group, image, ext string) string {
	return ResultPrefix + batch + "/" + group + "/" + image + "." + ext
}

// ResultVariantKey returns results/<batch>/<group>/<image>.<name>, e.g.
// <image>.thumb.jpg, beside the result it derives from.
func ResultVariantKey(batch, group, image, name string) string {
	return ResultPrefix + batch + "/" + group + "/" + image + "." + name
}

// ContentHash returns the SHA-256 a content or variant key refers to, so
// cleanup can ask the database whether anything still references it.
func ContentHash(key string) (string, bool) {
	var rest string
	switch {
	case strings.HasPrefix(key, ContentPrefix):
		rest = key[len(ContentPrefix):]
	case strings.HasPrefix(key, VariantPrefix):
		rest = key[len(VariantPrefix):]
	default:
		return "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 3 || !ValidSHA256(parts[2]) || parts[0] != parts[2][:2] || parts[1] != parts[2][2:4] {
		return "", false
	}
	return parts[2], true
}

// ErrHashMismatch means bytes given to PutContent do not have the declared hash.
var ErrHashMismatch = fault.New(fault.Internal, "blob_hash_mismatch", "Stored content does not match its hash.")

// PutContent stores r under ContentKey(sum) unless a blob is already there,
// which is how identical uploads end up stored once. The bytes are hashed
// while they stream; on a mismatch the reader fails before Put commits, so
// nothing lands under a wrong name. It reports whether it wrote.
//
// Concurrent calls with the same bytes may both write, but each write is an
// atomic replace with identical content, so the end state is one blob.
func PutContent(ctx context.Context, s Store, sum string, r io.Reader) (Info, bool, error) {
	if !ValidSHA256(sum) {
		return Info{}, false, fmt.Errorf("blob: invalid sha256 %q", sum)
	}
	key := ContentKey(sum)
	if info, err := s.Stat(ctx, key); err == nil {
		// Refresh the age of the existing blob: cleanup never deletes an
		// unreferenced blob younger than its minimum age, and this blob is
		// about to gain a reference.
		if t, ok := s.(Toucher); ok {
			if err := t.Touch(ctx, key); err != nil && !errors.Is(err, ErrNotFound) {
				return Info{}, false, err
			}
			if err != nil { // deleted by cleanup just now: write it again
				return putVerified(ctx, s, key, sum, r)
			}
		}
		return info, false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return Info{}, false, err
	}
	return putVerified(ctx, s, key, sum, r)
}

func putVerified(ctx context.Context, s Store, key, sum string, r io.Reader) (Info, bool, error) {
	info, err := s.Put(ctx, key, &verifyingReader{r: r, h: sha256.New(), want: sum})
	if err != nil {
		return Info{}, false, err
	}
	return info, true, nil
}

// Toucher is implemented by stores that can refresh a blob's modification
// time without rewriting it (Local does; an S3 store may not).
type Toucher interface {
	Touch(ctx context.Context, key string) error
}

// verifyingReader hashes what passes through and turns the final EOF into
// ErrHashMismatch when the digest differs.
type verifyingReader struct {
	r    io.Reader
	h    hash.Hash
	want string
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF && hex.EncodeToString(v.h.Sum(nil)) != v.want {
		return n, ErrHashMismatch
	}
	return n, err
}
