package batchview

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/imaging"
	"github.com/ludeng/ludeng/internal/store"
)

// A result is served in four sizes: the stored result ("full") and three
// JPEGs derived from it, stored beside it on first request.

// ResultSizes are the sizes a result is served in.
var ResultSizes = []string{"thumb", "card", "preview", "full"}

var errBadSize = fault.New(fault.Invalid, "bad_size", "size must be thumb, card, preview or full.").With("allowed", ResultSizes)

// SizeKey is the blob key and content type of a result's size: the result
// itself for "" and "full", else <result without extension>.<size>.jpg.
func SizeKey(resultKey, contentType, size string) (key, ctype string, err error) {
	switch size {
	case "", "full":
		return resultKey, contentType, nil
	case "thumb", "preview", "card":
		return trimExt(resultKey) + "." + size + ".jpg", "image/jpeg", nil
	}
	return "", "", errBadSize
}

func trimExt(key string) string {
	if i := strings.LastIndexByte(key, '.'); i > 0 {
		return key[:i]
	}
	return key
}

// MakeSizes stores a result's thumb, preview and card beside it.
func MakeSizes(ctx context.Context, blobs blob.Store, resultKey string) error {
	rc, _, err := blobs.Get(ctx, resultKey)
	if err != nil {
		return err
	}
	img, _, err := imaging.DecodeAny(rc, 64<<20)
	rc.Close()
	if err != nil {
		return fmt.Errorf("decode result: %w", err)
	}
	v, err := imaging.MakeVariants(img)
	if err != nil {
		return err
	}
	base := trimExt(resultKey)
	if _, err := blobs.Put(ctx, base+"."+blob.VariantThumb, bytes.NewReader(v.Thumb)); err != nil {
		return err
	}
	if _, err := blobs.Put(ctx, base+"."+blob.VariantPreview, bytes.NewReader(v.Preview)); err != nil {
		return err
	}
	var card bytes.Buffer
	if err := imaging.EncodeJPEG(&card, imaging.Card(img), imaging.VariantQuality); err != nil {
		return err
	}
	_, err = blobs.Put(ctx, base+".card.jpg", bytes.NewReader(card.Bytes()))
	return err
}

// ResultTag is a short stable tag of a result key: content URLs carry it
// (?v=) so a regenerated or reselected image is never served from cache.
func ResultTag(key string) string {
	s := sha256.Sum256([]byte(key))
	return hex.EncodeToString(s[:6])
}

// ResultURLs are the content links of an image's current result (none
// before it has one).
func ResultURLs(im *store.Image) ImageURLs {
	if im.ResultKey == "" {
		return ImageURLs{}
	}
	base := "/api/v1/images/" + im.ID + "/content?v=" + ResultTag(im.ResultKey) + "&size="
	return ImageURLs{Thumb: base + "thumb", Card: base + "card", Preview: base + "preview", Full: base + "full",
		Download: "/api/v1/images/" + im.ID + "/download"}
}
