// Package blob stores the bytes of uploads, their variants and generated
// results behind a small key/value interface, so the local-disk default can
// be replaced by an S3-compatible store on multi-node deployments without
// touching callers.
//
// Keys are slash-separated relative paths of safe segments
// ([A-Za-z0-9._@=-], no "." or ".." segment). Two layouts are used:
//
//	blobs/sha256/ab/cd/<hash>            content-addressed upload originals
//	variants/sha256/ab/cd/<hash>/<name>  thumbnail and preview of an original
//	results/<batch>/<group>/<image>.<ext> generated results (and .thumb.jpg …)
//
// Dates and ownership live in the database, never in keys, so identical
// content is stored once whoever uploads it.
package blob

import (
	"context"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"

	"github.com/ludeng/ludeng/internal/fault"
)

// ErrNotFound is returned by Get and Stat for a key that holds no blob.
var ErrNotFound = fault.New(fault.NotFound, "blob_not_found", "The file does not exist.")

// Info describes a stored blob.
type Info struct {
	// Key is the blob's key.
	Key string
	// Size is its length in bytes.
	Size int64
	// ModTime is when it was last written.
	ModTime time.Time
	// ETag is a quoted strong validator for HTTP caching; it changes
	// whenever the content may have changed.
	ETag string
}

// Store is a flat namespace of immutable-by-convention blobs.
//
// Implementations must make Put atomic: a reader sees either no blob or the
// whole new one, never a partial write, even across a crash. If r returns an
// error, Put stores nothing and returns it.
type Store interface {
	// Put writes all of r under key, replacing any previous blob.
	Put(ctx context.Context, key string, r io.Reader) (Info, error)
	// Get opens a blob for reading. The ReadSeeker lets http.ServeContent
	// answer Range requests. The caller closes it.
	Get(ctx context.Context, key string) (io.ReadSeekCloser, Info, error)
	// Stat returns a blob's Info, or ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes a blob. Deleting a missing key is not an error, so
	// retries and concurrent cleanups are harmless.
	Delete(ctx context.Context, key string) error
	// List yields every blob whose key starts with prefix, in lexical key
	// order. It stops at the first error, which it yields.
	List(ctx context.Context, prefix string) iter.Seq2[Info, error]
}

// ValidKey reports whether key is acceptable to every Store. The rules are
// strict on purpose: keys become file paths and object names, and nothing
// user-supplied should ever reach them unchecked.
func ValidKey(key string) error {
	if key == "" || len(key) > 512 {
		return fmt.Errorf("blob: invalid key length %d", len(key))
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("blob: invalid key %q: empty or dot segment", key)
		}
		for _, c := range seg {
			if !validKeyRune(c) {
				return fmt.Errorf("blob: invalid key %q: character %q", key, c)
			}
		}
	}
	return nil
}

func validKeyRune(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '@' || c == '='
}

// validPrefix accepts "" (everything), a whole-segment prefix ending in "/",
// or a partial last segment.
func validPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return ValidKey(strings.TrimSuffix(prefix, "/"))
}
