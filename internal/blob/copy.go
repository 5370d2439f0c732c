package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// CopyReport counts what Copy did. Bytes counts bytes written to the
// destination.
type CopyReport struct {
	Copied   int   `json:"copied"`
	Verified int   `json:"already_present"`
	Bytes    int64 `json:"bytes"`
	// Failed lists keys that could not be copied or whose copy did not
	// read back with the source's SHA-256 (or, for content keys, with the
	// hash in the key).
	Failed []CopyFailure `json:"failed,omitempty"`
}

// CopyFailure is one key Copy could not bring over.
type CopyFailure struct {
	Key   string `json:"key"`
	Error string `json:"error"`
}

// Copy copies every blob of src under prefix to dst, then reads each copy
// back and compares SHA-256 digests. A key already in dst with the same
// digest is left alone, so an interrupted copy is simply run again. A
// per-key failure is recorded and the copy goes on; the error return is for
// failures that stop it (listing, context).
func Copy(ctx context.Context, src, dst Store, prefix string, progress func(key string, copied bool)) (CopyReport, error) {
	var rep CopyReport
	for info, err := range src.List(ctx, prefix) {
		if err != nil {
			return rep, err
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		copied, n, err := copyOne(ctx, src, dst, info)
		if err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			rep.Failed = append(rep.Failed, CopyFailure{Key: info.Key, Error: err.Error()})
			continue
		}
		if copied {
			rep.Copied++
			rep.Bytes += n
		} else {
			rep.Verified++
		}
		if progress != nil {
			progress(info.Key, copied)
		}
	}
	return rep, nil
}

func copyOne(ctx context.Context, src, dst Store, info Info) (copied bool, n int64, err error) {
	want, err := digest(ctx, src, info.Key)
	if err != nil {
		return false, 0, fmt.Errorf("read source: %w", err)
	}
	if sum, ok := ContentHash(info.Key); ok && !isVariant(info.Key) && sum != want {
		// The key names the content's hash: a source blob that differs is
		// corrupt, and copying it would spread the damage.
		return false, 0, fmt.Errorf("source does not match the hash in its key (sha256 %s)", want)
	}
	if st, err := dst.Stat(ctx, info.Key); err == nil && st.Size == info.Size {
		if got, err := digest(ctx, dst, info.Key); err == nil && got == want {
			return false, 0, nil
		}
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return false, 0, fmt.Errorf("stat destination: %w", err)
	}
	rc, _, err := src.Get(ctx, info.Key)
	if err != nil {
		return false, 0, fmt.Errorf("open source: %w", err)
	}
	h := sha256.New()
	put, err := dst.Put(ctx, info.Key, io.TeeReader(rc, h))
	rc.Close()
	if err != nil {
		return false, 0, fmt.Errorf("write destination: %w", err)
	}
	if hex.EncodeToString(h.Sum(nil)) != want {
		return false, 0, errors.New("source changed while copying")
	}
	got, err := digest(ctx, dst, info.Key)
	if err != nil {
		return false, 0, fmt.Errorf("read back: %w", err)
	}
	if got != want {
		return false, 0, fmt.Errorf("copy reads back with sha256 %s, source has %s", got, want)
	}
	return true, put.Size, nil
}

// isVariant reports a derived size (thumbnail, preview), whose key holds
// the hash of the original rather than its own.
func isVariant(key string) bool {
	return len(key) > len(VariantPrefix) && key[:len(VariantPrefix)] == VariantPrefix
}

func digest(ctx context.Context, s Store, key string) (string, error) {
	rc, _, err := s.Get(ctx, key)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{ctx, rc}); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
