package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/ludeng/ludeng/internal/fault"
)

// TempDirName is the directory under the root where Put stages files. It is
// on the same filesystem as the blobs, so the final rename is atomic, and it
// is never listed as blobs; cleanup sweeps stale files from it.
const TempDirName = "tmp"

// Local is a Store on the local filesystem: key "a/b/c" is file
// <root>/a/b/c. It is safe for concurrent use by several goroutines and by
// several processes sharing the directory.
type Local struct {
	root string
}

// NewLocal returns a store rooted at dir (usually LUDENG_DATA_DIR), creating
// it and its temp directory.
func NewLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blob: resolve %q: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Join(abs, TempDirName), 0o750); err != nil {
		return nil, fmt.Errorf("blob: create %q: %w", abs, err)
	}
	return &Local{root: abs}, nil
}

// Root returns the absolute root directory.
func (l *Local) Root() string { return l.root }

// TempDir returns the staging directory. Other packages that spool files
// (upload) should use it too: it is on the blob filesystem, covered by the
// disk guard, and swept by cleanup.
func (l *Local) TempDir() string { return filepath.Join(l.root, TempDirName) }

func (l *Local) path(key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	if key == TempDirName || strings.HasPrefix(key, TempDirName+"/") {
		return "", fmt.Errorf("blob: key %q is inside the temp directory", key)
	}
	return filepath.Join(l.root, filepath.FromSlash(key)), nil
}

// Put writes r to a temp file, fsyncs it, renames it over the final name
// and fsyncs the directory: after a crash the key holds the old blob, the
// new one, or nothing, never a torn file.
func (l *Local) Put(ctx context.Context, key string, r io.Reader) (Info, error) {
	dst, err := l.path(key)
	if err != nil {
		return Info{}, err
	}
	tmp, err := os.CreateTemp(l.TempDir(), "put-*")
	if err != nil {
		return Info{}, storageErr("create temp file", err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, ctxReader{ctx, r}); err != nil {
		return Info{}, storageErr("write "+key, err)
	}
	if err := tmp.Sync(); err != nil {
		return Info{}, storageErr("fsync "+key, err)
	}
	if err := tmp.Close(); err != nil {
		return Info{}, storageErr("close "+key, err)
	}
	// A concurrent Delete may remove an emptied parent directory between
	// MkdirAll and Rename; retrying a few times settles that race.
	for attempt := 0; ; attempt++ {
		if err = os.MkdirAll(filepath.Dir(dst), 0o750); err == nil {
			if err = os.Rename(tmp.Name(), dst); err == nil {
				break
			}
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt == 3 {
			return Info{}, storageErr("commit "+key, err)
		}
	}
	committed = true
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return Info{}, storageErr("fsync dir of "+key, err)
	}
	return l.Stat(ctx, key)
}

// Get opens the blob file.
func (l *Local) Get(ctx context.Context, key string) (io.ReadSeekCloser, Info, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, Info{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, Info{}, notFoundOr(key, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, Info{}, fmt.Errorf("blob: stat %s: %w", key, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, Info{}, ErrNotFound.With("key", key)
	}
	return f, infoOf(key, st), nil
}

// Stat returns the blob's Info.
func (l *Local) Stat(ctx context.Context, key string) (Info, error) {
	p, err := l.path(key)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return Info{}, notFoundOr(key, err)
	}
	if !st.Mode().IsRegular() {
		return Info{}, ErrNotFound.With("key", key)
	}
	return infoOf(key, st), nil
}

// Touch sets the blob's modification time to now.
func (l *Local) Touch(ctx context.Context, key string) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	now := time.Now()
	if err := os.Chtimes(p, now, now); err != nil {
		return notFoundOr(key, err)
	}
	return nil
}

// Delete removes the blob and then any parent directories it left empty
// (up to, not including, the root), so cleanup does not leave a forest of
// empty fan-out directories behind.
func (l *Local) Delete(ctx context.Context, key string) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	for dir := filepath.Dir(p); dir != l.root && strings.HasPrefix(dir, l.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break // not empty (or already gone): stop climbing
		}
	}
	return nil
}

// List walks the directory tree under the prefix's directory in lexical
// order, skipping the temp directory.
func (l *Local) List(ctx context.Context, prefix string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		if err := validPrefix(prefix); err != nil {
			yield(Info{}, err)
			return
		}
		// Start at the deepest directory fully named by the prefix.
		start := l.root
		if i := strings.LastIndex(prefix, "/"); i >= 0 {
			start = filepath.Join(l.root, filepath.FromSlash(prefix[:i]))
		}
		stop := errors.New("stop")
		err := walkSorted(start, func(p string, d fs.DirEntry) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			rel, err := filepath.Rel(l.root, p)
			if err != nil {
				return err
			}
			key := filepath.ToSlash(rel)
			if d.IsDir() {
				if key == TempDirName {
					return fs.SkipDir
				}
				// Prune subtrees that cannot contain the prefix.
				if key != "." && !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
					return fs.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || !strings.HasPrefix(key, prefix) || ValidKey(key) != nil {
				return nil
			}
			st, err := d.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted while listing
			}
			if err != nil {
				return err
			}
			if !yield(infoOf(key, st), nil) {
				return stop
			}
			return nil
		})
		if err != nil && !errors.Is(err, stop) && !errors.Is(err, fs.ErrNotExist) {
			yield(Info{}, fmt.Errorf("blob: list %q: %w", prefix, err))
		}
	}
}

// walkSorted is filepath.WalkDir with lexical order that tolerates entries
// vanishing mid-walk (concurrent Delete).
func walkSorted(dir string, fn func(string, fs.DirEntry) error) error {
	st, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if err := fn(dir, fs.FileInfoToDirEntry(st)); err != nil {
		if errors.Is(err, fs.SkipDir) {
			return nil
		}
		return err
	}
	if !st.IsDir() {
		return nil
	}
	return walkChildren(dir, fn)
}

func walkChildren(dir string, fn func(string, fs.DirEntry) error) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if err := fn(p, e); err != nil {
			if errors.Is(err, fs.SkipDir) {
				continue
			}
			return err
		}
		if e.IsDir() {
			if err := walkChildren(p, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

func infoOf(key string, st fs.FileInfo) Info {
	return Info{
		Key:     key,
		Size:    st.Size(),
		ModTime: st.ModTime(),
		// Size plus nanosecond mtime changes on every rewrite (a rewrite is
		// a rename of a new inode), like nginx's validator.
		ETag: fmt.Sprintf(`"%x-%x"`, st.ModTime().UnixNano(), st.Size()),
	}
}

func notFoundOr(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return ErrNotFound.With("key", key)
	}
	return fmt.Errorf("blob: %s: %w", key, err)
}

// storageErr classifies "disk full" (and quota) as the 507 the disk guard
// uses, so a race past the guard still tells the user the real reason.
func storageErr(what string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return ErrDiskFull.Wrap(fmt.Errorf("%s: %w", what, err))
	}
	var fe *fault.Error
	if errors.As(err, &fe) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err // the reader's own error (size limit, hash mismatch, cancel)
	}
	return fmt.Errorf("blob: %s: %w", what, err)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ctxReader stops a long copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
