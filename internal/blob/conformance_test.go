package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/config"
	"github.com/ludeng/ludeng/internal/fault"
)

// The conformance suite is what every Store must do for its callers; it
// runs on local disk always and on a real S3 server when one is configured
// (.ci/scale.sh starts SeaweedFS and sets LUDENG_TEST_S3_ENDPOINT, and
// checks that this test ran rather than skipped).

func TestConformanceLocal(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T) Store {
		s, err := NewLocal(t.TempDir())
		require.NoError(t, err)
		return s
	})
}

// testS3 returns a store on a fresh prefix of the test bucket, or skips
// when no server is configured (never in .ci/scale.sh, which requires it).
func testS3(t *testing.T) *S3 {
	t.Helper()
	endpoint := os.Getenv("LUDENG_TEST_S3_ENDPOINT")
	if endpoint == "" {
		t.Skip("LUDENG_TEST_S3_ENDPOINT not set; .ci/scale.sh runs this against SeaweedFS")
	}
	bucket := os.Getenv("LUDENG_TEST_S3_BUCKET")
	if bucket == "" {
		bucket = "ludeng-test"
	}
	env := config.NewEnv(func(k string) string {
		switch k {
		case "LUDENG_BLOB_S3_ENDPOINT":
			return endpoint
		case "LUDENG_BLOB_S3_PATH_STYLE":
			return "true"
		case "LUDENG_BLOB_S3_PART_SIZE":
			return "5MiB"
		case "LUDENG_BLOB_S3_ACCESS_KEY_ID":
			return os.Getenv("LUDENG_TEST_S3_ACCESS_KEY_ID")
		case "LUDENG_BLOB_S3_SECRET_ACCESS_KEY":
			return os.Getenv("LUDENG_TEST_S3_SECRET_ACCESS_KEY")
		}
		return ""
	})
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	cfg := S3ConfigFromEnv(env, "url", fmt.Sprintf("s3://%s/t-%x", bucket, rnd))
	require.NoError(t, env.Err())
	s, err := NewS3(cfg, nil)
	require.NoError(t, err)
	ctx := context.Background()
	if ok, err := s.client.BucketExists(ctx, bucket); err == nil && !ok {
		_ = s.client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{})
	}
	require.NoError(t, s.Check(ctx))
	t.Cleanup(func() {
		for info, err := range s.List(context.Background(), "") {
			if err == nil {
				_ = s.Delete(context.Background(), info.Key)
			}
		}
	})
	return s
}

func TestConformanceS3(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T) Store { return testS3(t) })
}

func conformance(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()

	t.Run("RoundTripAndStat", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		data := []byte("hello blob")
		info, err := s.Put(ctx, "results/b1/g1/i1.jpg", bytes.NewReader(data))
		require.NoError(t, err)
		require.Equal(t, int64(len(data)), info.Size)
		require.Equal(t, "results/b1/g1/i1.jpg", info.Key)
		require.True(t, strings.HasPrefix(info.ETag, `"`) && strings.HasSuffix(info.ETag, `"`), info.ETag)
		require.WithinDuration(t, time.Now(), info.ModTime, time.Minute)

		rc, got, err := s.Get(ctx, "results/b1/g1/i1.jpg")
		require.NoError(t, err)
		body, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		require.Equal(t, data, body)
		require.Equal(t, info.Size, got.Size)
		require.Equal(t, info.ETag, got.ETag)

		st, err := s.Stat(ctx, "results/b1/g1/i1.jpg")
		require.NoError(t, err)
		require.Equal(t, info.ETag, st.ETag)

		// A rewrite with other bytes changes the validator.
		info2, err := s.Put(ctx, "results/b1/g1/i1.jpg", strings.NewReader("other bytes"))
		require.NoError(t, err)
		require.NotEqual(t, info.ETag, info2.ETag)
	})

	t.Run("MissingKeys", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		_, _, err := s.Get(ctx, "results/none/g/i.jpg")
		require.ErrorIs(t, err, ErrNotFound)
		_, err = s.Stat(ctx, "results/none/g/i.jpg")
		require.ErrorIs(t, err, ErrNotFound)
		require.NoError(t, s.Delete(ctx, "results/none/g/i.jpg"))
		for _, k := range []string{"../x", "a//b", ""} {
			_, err := s.Put(ctx, k, strings.NewReader("x"))
			require.Error(t, err, k)
		}
	})

	t.Run("PutIsAtomicOnReaderError", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		cause := fault.New(fault.TooLarge, "upload_too_large", "too large")
		_, err := s.Put(ctx, "results/b/g/i.png", &failingReader{n: 100000, err: cause})
		require.ErrorIs(t, err, cause)
		_, err = s.Stat(ctx, "results/b/g/i.png")
		require.ErrorIs(t, err, ErrNotFound)
		// Past the first part: a multipart upload must be aborted, not completed.
		_, err = s.Put(ctx, "results/b/g/big.png", &failingReader{n: 7 << 20, err: cause})
		require.ErrorIs(t, err, cause)
		_, err = s.Stat(ctx, "results/b/g/big.png")
		require.ErrorIs(t, err, ErrNotFound)

		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err = s.Put(cctx, "results/b/g/j.png", strings.NewReader("data"))
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("LargeObjectStreamsInParts", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		data := make([]byte, 11<<20+12345) // three 5 MiB parts on S3
		_, _ = rand.Read(data)
		info, err := s.Put(ctx, "results/b/g/large.png", bytes.NewReader(data))
		require.NoError(t, err)
		require.Equal(t, int64(len(data)), info.Size)
		rc, _, err := s.Get(ctx, "results/b/g/large.png")
		require.NoError(t, err)
		got, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		require.Equal(t, sum(data), sum(got))
	})

	t.Run("ListOrderAndPrefixes", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		keys := []string{"results/b2/g1/i1.jpg", "results/b1/g2/i1.jpg", "results/b1/g1/i2.jpg", "results/b10/g1/i.jpg", "blobs/sha256/aa/bb/x"}
		for _, k := range keys {
			_, err := s.Put(ctx, k, strings.NewReader(k))
			require.NoError(t, err)
		}
		collect := func(prefix string) []string {
			var out []string
			for info, err := range s.List(ctx, prefix) {
				require.NoError(t, err)
				require.Equal(t, int64(len(info.Key)), info.Size)
				out = append(out, info.Key)
			}
			return out
		}
		require.Equal(t, []string{"blobs/sha256/aa/bb/x", "results/b1/g1/i2.jpg", "results/b1/g2/i1.jpg", "results/b10/g1/i.jpg", "results/b2/g1/i1.jpg"}, collect(""))
		require.Equal(t, []string{"results/b1/g1/i2.jpg", "results/b1/g2/i1.jpg"}, collect("results/b1/"))
		require.Equal(t, []string{"results/b1/g1/i2.jpg", "results/b1/g2/i1.jpg", "results/b10/g1/i.jpg"}, collect("results/b1"))
		require.Empty(t, collect("missing/"))
		n := 0
		for range s.List(ctx, "") {
			n++
			break
		}
		require.Equal(t, 1, n)
		for _, err := range s.List(ctx, "../") {
			require.Error(t, err)
		}
		require.NoError(t, s.Delete(ctx, "results/b1/g2/i1.jpg"))
		require.Equal(t, []string{"results/b1/g1/i2.jpg"}, collect("results/b1/"))
	})

	t.Run("PutContentDedupVerifyAndTouch", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		data := bytes.Repeat([]byte("photo"), 1000)
		h := sum(data)
		_, wrote, err := PutContent(ctx, s, h, bytes.NewReader(data))
		require.NoError(t, err)
		require.True(t, wrote)
		before, err := s.Stat(ctx, ContentKey(h))
		require.NoError(t, err)
		// S3's LastModified has one-second resolution.
		time.Sleep(1100 * time.Millisecond)
		info, wrote, err := PutContent(ctx, s, h, bytes.NewReader(data))
		require.NoError(t, err)
		require.False(t, wrote)
		require.Equal(t, int64(len(data)), info.Size)
		after, err := s.Stat(ctx, ContentKey(h))
		require.NoError(t, err)
		require.True(t, after.ModTime.After(before.ModTime), "touch moves the modification time: %v → %v", before.ModTime, after.ModTime)

		other := sum([]byte("other"))
		_, _, err = PutContent(ctx, s, other, bytes.NewReader(data))
		require.ErrorIs(t, err, ErrHashMismatch)
		_, err = s.Stat(ctx, ContentKey(other))
		require.ErrorIs(t, err, ErrNotFound)
	})

	t.Run("ConcurrentPutSameBytes", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		data := bytes.Repeat([]byte{1, 2, 3, 4}, 256<<10)
		h := sum(data)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() { _, _, errs[i] = PutContent(ctx, s, h, bytes.NewReader(data)) })
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		var keys []string
		for info, err := range s.List(ctx, "") {
			require.NoError(t, err)
			keys = append(keys, info.Key)
		}
		require.Equal(t, []string{ContentKey(h)}, keys)
	})

	t.Run("ServeContentRangeAndValidators", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		_, err := s.Put(ctx, "results/b/g/i.jpg", strings.NewReader("0123456789"))
		require.NoError(t, err)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc, info, err := s.Get(r.Context(), "results/b/g/i.jpg")
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			defer rc.Close()
			w.Header().Set("ETag", info.ETag)
			http.ServeContent(w, r, "", info.ModTime, rc)
		})
		get := func(hdr, val string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if hdr != "" {
				req.Header.Set(hdr, val)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec
		}
		rec := get("Range", "bytes=2-4")
		require.Equal(t, http.StatusPartialContent, rec.Code)
		require.Equal(t, "234", rec.Body.String())
		rec = get("Range", "bytes=7-")
		require.Equal(t, "789", rec.Body.String())
		rec = get("", "")
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "0123456789", rec.Body.String())
		rec = get("If-None-Match", rec.Header().Get("ETag"))
		require.Equal(t, http.StatusNotModified, rec.Code)
	})
	t.Run("CopyFromLocalIsIdempotentAndVerified", func(t *testing.T) {
		t.Parallel()
		dst := newStore(t)
		src, err := NewLocal(t.TempDir())
		require.NoError(t, err)
		photo := []byte("an uploaded photo")
		_, _, err = PutContent(ctx, src, sum(photo), bytes.NewReader(photo))
		require.NoError(t, err)
		_, err = src.Put(ctx, "results/b/g/i.jpg", strings.NewReader("a result"))
		require.NoError(t, err)
		// A corrupt content blob is reported, not copied.
		bad := sum([]byte("expected"))
		_, err = src.Put(ctx, ContentKey(bad), strings.NewReader("bit rot"))
		require.NoError(t, err)

		rep, err := Copy(ctx, src, dst, "", nil)
		require.NoError(t, err)
		require.Equal(t, 2, rep.Copied)
		require.Len(t, rep.Failed, 1)
		require.Equal(t, ContentKey(bad), rep.Failed[0].Key)
		_, err = dst.Stat(ctx, ContentKey(bad))
		require.ErrorIs(t, err, ErrNotFound)

		// Run again: nothing to copy. A destination object with other
		// bytes of the same size is replaced.
		_, err = dst.Put(ctx, "results/b/g/i.jpg", strings.NewReader("A RESULT"))
		require.NoError(t, err)
		rep, err = Copy(ctx, src, dst, "", nil)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Copied)
		require.Equal(t, 1, rep.Verified)
		rc, _, err := dst.Get(ctx, "results/b/g/i.jpg")
		require.NoError(t, err)
		got, _ := io.ReadAll(rc)
		rc.Close()
		require.Equal(t, "a result", string(got))
	})
}
