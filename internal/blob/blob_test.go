package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/stretchr/testify/require"
)

type testBundle struct {
	store *Local
	root  string
}

func setup(t *testing.T) testBundle {
	t.Helper()
	root := t.TempDir()
	s, err := NewLocal(root)
	require.NoError(t, err)
	return testBundle{store: s, root: root}
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// tempEntries lists what is left in the staging directory.
func tempEntries(t *testing.T, s *Local) []string {
	t.Helper()
	entries, err := os.ReadDir(s.TempDir())
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestValidKey(t *testing.T) {
	t.Parallel()
	good := []string{"a", "results/b/g/i.jpg", "blobs/sha256/ab/cd/" + strings.Repeat("a", 64), "x/y@thumb=1.jpg"}
	bad := []string{"", "/abs", "a//b", "a/../b", "..", ".", "a/./b", `a\b`, "a/b/", "naïve", "a b", "a\x00b", strings.Repeat("a", 513)}
	for _, k := range good {
		require.NoError(t, ValidKey(k), k)
	}
	for _, k := range bad {
		require.Error(t, ValidKey(k), k)
	}
}

func TestLocalRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	data := []byte("hello blob")

	info, err := b.store.Put(ctx, "results/b1/g1/i1.jpg", bytes.NewReader(data))
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), info.Size)
	require.Equal(t, "results/b1/g1/i1.jpg", info.Key)
	require.NotEmpty(t, info.ETag)

	rc, got, err := b.store.Get(ctx, "results/b1/g1/i1.jpg")
	require.NoError(t, err)
	body, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	require.Equal(t, data, body)
	require.Equal(t, info, got)

	st, err := b.store.Stat(ctx, "results/b1/g1/i1.jpg")
	require.NoError(t, err)
	require.Equal(t, info, st)

	// Overwrite changes the ETag.
	info2, err := b.store.Put(ctx, "results/b1/g1/i1.jpg", strings.NewReader("v2"))
	require.NoError(t, err)
	require.NotEqual(t, info.ETag, info2.ETag)

	require.NoError(t, b.store.Delete(ctx, "results/b1/g1/i1.jpg"))
	_, err = b.store.Stat(ctx, "results/b1/g1/i1.jpg")
	require.ErrorIs(t, err, ErrNotFound)
	require.Equal(t, fault.NotFound, fault.KindOf(err))
	_, _, err = b.store.Get(ctx, "results/b1/g1/i1.jpg")
	require.ErrorIs(t, err, ErrNotFound)
	// Deleting again is fine, and empty parents were removed.
	require.NoError(t, b.store.Delete(ctx, "results/b1/g1/i1.jpg"))
	_, err = os.Stat(filepath.Join(b.root, "results"))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Empty(t, tempEntries(t, b.store))
}

func TestLocalRejectsBadKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	for _, k := range []string{"../escape", "tmp/put-1", "tmp", "/etc/passwd", "a/../../b"} {
		_, err := b.store.Put(ctx, k, strings.NewReader("x"))
		require.Error(t, err, k)
		_, err = b.store.Stat(ctx, k)
		require.Error(t, err, k)
		require.Error(t, b.store.Delete(ctx, k), k)
	}
	// A directory is not a blob.
	_, err := b.store.Put(ctx, "dir/file", strings.NewReader("x"))
	require.NoError(t, err)
	_, err = b.store.Stat(ctx, "dir")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = b.store.Stat(ctx, "dir/file/deeper")
	require.ErrorIs(t, err, ErrNotFound)
}

// failingReader yields some bytes, then an error, like a client that
// disconnects mid-upload or a size limit that trips.
type failingReader struct {
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	k := min(len(p), f.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	f.n -= k
	return k, nil
}

func TestPutIsAtomicOnReaderError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	cause := fault.New(fault.TooLarge, "upload_too_large", "too large")
	_, err := b.store.Put(ctx, "results/b/g/i.png", &failingReader{n: 100000, err: cause})
	require.ErrorIs(t, err, cause)
	_, err = b.store.Stat(ctx, "results/b/g/i.png")
	require.ErrorIs(t, err, ErrNotFound)
	require.Empty(t, tempEntries(t, b.store))

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = b.store.Put(cctx, "results/b/g/j.png", strings.NewReader("data"))
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, tempEntries(t, b.store))
}

func TestList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	keys := []string{"results/b2/g1/i1.jpg", "results/b1/g2/i1.jpg", "results/b1/g1/i2.jpg", "results/b10/g1/i.jpg", "blobs/sha256/aa/bb/x"}
	for _, k := range keys {
		_, err := b.store.Put(ctx, k, strings.NewReader(k))
		require.NoError(t, err)
	}
	// Stray file in tmp is never listed.
	require.NoError(t, os.WriteFile(filepath.Join(b.store.TempDir(), "put-stray"), []byte("x"), 0o600))

	collect := func(prefix string) []string {
		var out []string
		for info, err := range b.store.List(ctx, prefix) {
			require.NoError(t, err)
			out = append(out, info.Key)
		}
		return out
	}
	require.Equal(t, []string{"blobs/sha256/aa/bb/x", "results/b1/g1/i2.jpg", "results/b1/g2/i1.jpg", "results/b10/g1/i.jpg", "results/b2/g1/i1.jpg"}, collect(""))
	require.Equal(t, []string{"results/b1/g1/i2.jpg", "results/b1/g2/i1.jpg"}, collect("results/b1/"))
	require.Equal(t, []string{"results/b1/g1/i2.jpg", "results/b1/g2/i1.jpg", "results/b10/g1/i.jpg"}, collect("results/b1"))
	require.Empty(t, collect("missing/"))

	// Early break stops the walk.
	n := 0
	for range b.store.List(ctx, "") {
		n++
		break
	}
	require.Equal(t, 1, n)

	for _, err := range b.store.List(ctx, "../") {
		require.Error(t, err)
	}
}

func TestContentKeys(t *testing.T) {
	t.Parallel()
	h := sum([]byte("x"))
	require.Equal(t, "blobs/sha256/"+h[:2]+"/"+h[2:4]+"/"+h, ContentKey(h))
	got, ok := ContentHash(ContentKey(h))
	require.True(t, ok)
	require.Equal(t, h, got)
	got, ok = ContentHash(VariantKey(h, VariantThumb))
	require.True(t, ok)
	require.Equal(t, h, got)
	_, ok = ContentHash("blobs/sha256/00/00/" + h)
	require.False(t, ok)
	_, ok = ContentHash(ResultKey("b", "g", "i", "jpg"))
	require.False(t, ok)
	require.Equal(t, "results/b/g/i.jpg", ResultKey("b", "g", "i", "jpg"))
	require.Equal(t, "results/b/g/i.thumb.jpg", ResultVariantKey("b", "g", "i", VariantThumb))
	require.NoError(t, ValidKey(VariantKey(h, VariantPreview)))
}

func TestPutContentDedupAndVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	data := bytes.Repeat([]byte("photo"), 1000)
	h := sum(data)

	_, wrote, err := PutContent(ctx, b.store, h, bytes.NewReader(data))
	require.NoError(t, err)
	require.True(t, wrote)
	// An old existing blob is touched, so cleanup's minimum age protects it.
	old := time.Now().Add(-48 * time.Hour)
	require.NoError(t, os.Chtimes(filepath.Join(b.root, ContentKey(h)), old, old))
	info, wrote, err := PutContent(ctx, b.store, h, bytes.NewReader(data))
	require.NoError(t, err)
	require.False(t, wrote)
	st, err := b.store.Stat(ctx, ContentKey(h))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), st.ModTime, time.Hour)
	require.Equal(t, int64(len(data)), info.Size)

	other := sum([]byte("other"))
	_, _, err = PutContent(ctx, b.store, other, bytes.NewReader(data))
	require.ErrorIs(t, err, ErrHashMismatch)
	_, err = b.store.Stat(ctx, ContentKey(other))
	require.ErrorIs(t, err, ErrNotFound)
	require.Empty(t, tempEntries(t, b.store))

	_, _, err = PutContent(ctx, b.store, "nothex", bytes.NewReader(data))
	require.Error(t, err)
}

func TestConcurrentPutSameBytesEndsWithOneBlob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	data := bytes.Repeat([]byte{1, 2, 3, 4}, 256<<10)
	h := sum(data)
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() {
			_, _, errs[i] = PutContent(ctx, b.store, h, bytes.NewReader(data))
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	var keys []string
	for info, err := range b.store.List(ctx, "") {
		require.NoError(t, err)
		keys = append(keys, info.Key)
		require.Equal(t, int64(len(data)), info.Size)
	}
	require.Equal(t, []string{ContentKey(h)}, keys)
	require.Empty(t, tempEntries(t, b.store))
	rc, _, err := b.store.Get(ctx, ContentKey(h))
	require.NoError(t, err)
	defer rc.Close()
	got, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.Equal(t, h, sum(got))
}

// TestServeContentRange shows the contract the HTTP layer relies on: Get's
// ReadSeeker and Info feed http.ServeContent for Range and ETag handling.
func TestServeContentRange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	_, err := b.store.Put(ctx, "results/b/g/i.jpg", strings.NewReader("0123456789"))
	require.NoError(t, err)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc, info, err := b.store.Get(r.Context(), "results/b/g/i.jpg")
		require.NoError(t, err)
		defer rc.Close()
		w.Header().Set("ETag", info.ETag)
		http.ServeContent(w, r, "", info.ModTime, rc)
	})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Range", "bytes=2-4")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusPartialContent, rec.Code)
	require.Equal(t, "234", rec.Body.String())

	etag := rec.Header().Get("ETag")
	req = httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusNotModified, rec.Code)
}

func TestGuard(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	free := func(n int64, err error) func(string) (int64, error) {
		return func(string) (int64, error) { return n, err }
	}
	tests := []struct {
		name    string
		g       Guard
		wantErr error
	}{
		{"disabled", Guard{Min: 0, FreeFunc: free(0, nil)}, nil},
		{"enough", Guard{Min: 100, FreeFunc: free(100, nil)}, nil},
		{"too little", Guard{Min: 100, FreeFunc: free(99, nil)}, ErrDiskFull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.g.Check(ctx)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			fe := fault.As(err)
			require.Equal(t, fault.InsufficientStorage, fe.Kind)
			require.Equal(t, "disk_full", fe.Code)
			require.Equal(t, int64(99), fe.Params["free_bytes"])
		})
	}
	// Unmeasurable fails closed with an internal error.
	err := Guard{Min: 1, FreeFunc: free(0, errors.New("boom"))}.Check(ctx)
	require.Error(t, err)
	require.Equal(t, fault.Internal, fault.KindOf(err))

	// The real statfs sees this machine's disk.
	n, err := FreeBytes(t.TempDir())
	require.NoError(t, err)
	require.Positive(t, n)
	require.NoError(t, Guard{Dir: t.TempDir(), Min: 1}.Check(ctx))
	require.ErrorIs(t, Guard{Dir: t.TempDir(), Min: 1 << 62}.Check(ctx), ErrDiskFull)
}

func TestStorageErrClassifiesDiskFull(t *testing.T) {
	t.Parallel()
	err := storageErr("write x", &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC})
	require.ErrorIs(t, err, ErrDiskFull)
	require.Equal(t, fault.InsufficientStorage, fault.KindOf(err))
	err = storageErr("write x", errors.New("io"))
	require.Equal(t, fault.Internal, fault.KindOf(err))
}
