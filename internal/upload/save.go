package upload

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/ludeng/ludeng/internal/blob"
)

// Stored names where an accepted image now lives.
type Stored struct {
	// Key, ThumbKey and PreviewKey are blob keys of the original and its
	// variants (blob.ContentKey / blob.VariantKey of SHA256).
	Key        string `json:"key"`
	ThumbKey   string `json:"thumb_key"`
	PreviewKey string `json:"preview_key"`
	// Created is false when identical content was already stored (by this
	// or another user): the bytes are kept once.
	Created bool `json:"created"`
}

// Save stores an accepted image content-addressed, with its thumbnail and
// preview, skipping whatever already exists, then removes the temp file.
// The variants are written first: if the process dies in between, the
// leftovers are unreferenced variants that cleanup removes, never an
// original without its thumbnail.
func Save(ctx context.Context, s blob.Store, img *Image) (Stored, error) {
	defer img.Close()
	out := Stored{
		Key:        blob.ContentKey(img.SHA256),
		ThumbKey:   blob.VariantKey(img.SHA256, blob.VariantThumb),
		PreviewKey: blob.VariantKey(img.SHA256, blob.VariantPreview),
	}
	for _, v := range []struct {
		key  string
		data []byte
	}{{out.ThumbKey, img.Thumb}, {out.PreviewKey, img.Preview}} {
		if _, err := s.Stat(ctx, v.key); err == nil {
			continue
		} else if !errors.Is(err, blob.ErrNotFound) {
			return Stored{}, err
		}
		if _, err := s.Put(ctx, v.key, bytes.NewReader(v.data)); err != nil {
			return Stored{}, fmt.Errorf("store variant: %w", err)
		}
	}
	f, err := img.Open()
	if err != nil {
		return Stored{}, fmt.Errorf("open stored image: %w", err)
	}
	defer f.Close()
	_, created, err := blob.PutContent(ctx, s, img.SHA256, f)
	if err != nil {
		return Stored{}, fmt.Errorf("store image: %w", err)
	}
	out.Created = created
	return out, nil
}
