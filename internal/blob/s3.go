package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ludeng/ludeng/internal/config"
	"github.com/ludeng/ludeng/internal/fault"
)

// S3 part sizes: S3 refuses parts under 5 MiB (except the last), and 8 MiB
// keeps a typical 1–4 MB generated image in a single PUT while bounding the
// memory of one upload to one part.
const (
	MinPartSize     = 5 << 20
	DefaultPartSize = 8 << 20
	maxPartSize     = 512 << 20
	maxParts        = 10000
)

// S3Config locates a bucket on an S3-compatible server.
type S3Config struct {
	// Bucket and Prefix come from s3://bucket/prefix; Prefix has no
	// leading or trailing slash.
	Bucket, Prefix string
	// Endpoint is the server's base URL, e.g. https://s3.eu-west-1.amazonaws.com,
	// https://oss-cn-hangzhou.aliyuncs.com or http://127.0.0.1:8333.
	Endpoint string
	// Region is sent in signatures; many self-hosted servers accept any.
	Region string
	// PathStyle addresses the bucket as endpoint/bucket/key instead of
	// bucket.endpoint/key. Self-hosted servers usually need it; Aliyun OSS
	// and Tencent COS refuse it.
	PathStyle bool
	// AccessKeyID and SecretAccessKey sign requests. Empty means anonymous
	// (only useful for tests against a server without auth).
	AccessKeyID, SecretAccessKey string
	// PartSize is the multipart part size (and the most one upload buffers).
	PartSize int64
	// RedirectTTL, when positive, makes image downloads answer 302 to a
	// presigned URL valid that long, after ludeng's own access check.
	RedirectTTL time.Duration
}

// ParseS3URL splits s3://bucket/prefix.
func ParseS3URL(raw string) (bucket, prefix string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return "", "", fmt.Errorf("want s3://bucket/prefix, got %q", raw)
	}
	prefix = strings.Trim(u.Path, "/")
	if prefix != "" {
		if err := ValidKey(prefix); err != nil {
			return "", "", fmt.Errorf("prefix %q: %w", prefix, err)
		}
	}
	return u.Host, prefix, nil
}

// S3ConfigFromEnv reads the LUDENG_BLOB_S3_* variables for the bucket of
// rawURL (LUDENG_BLOB_URL or a command's --to). The AWS_* names are accepted
// as fallbacks so an instance role's usual environment works unchanged.
func S3ConfigFromEnv(env *config.Env, name, rawURL string) S3Config {
	var c S3Config
	var err error
	c.Bucket, c.Prefix, err = ParseS3URL(rawURL)
	if err != nil {
		env.Fail(name, "%v", err)
	}
	c.Endpoint = env.String("LUDENG_BLOB_S3_ENDPOINT", "https://s3.amazonaws.com")
	if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		env.Fail("LUDENG_BLOB_S3_ENDPOINT", "want http(s)://host[:port], got %q", c.Endpoint)
	}
	c.Region = env.String("LUDENG_BLOB_S3_REGION", env.String("AWS_REGION", "us-east-1"))
	c.PathStyle = env.Bool("LUDENG_BLOB_S3_PATH_STYLE", false)
	c.AccessKeyID = env.Secret("LUDENG_BLOB_S3_ACCESS_KEY_ID")
	if c.AccessKeyID == "" {
		c.AccessKeyID = env.Secret("AWS_ACCESS_KEY_ID")
	}
	c.SecretAccessKey = env.Secret("LUDENG_BLOB_S3_SECRET_ACCESS_KEY")
	if c.SecretAccessKey == "" {
		c.SecretAccessKey = env.Secret("AWS_SECRET_ACCESS_KEY")
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		env.Fail("LUDENG_BLOB_S3_SECRET_ACCESS_KEY", "set both the access key id and the secret access key, or neither")
	}
	c.PartSize = env.Bytes("LUDENG_BLOB_S3_PART_SIZE", DefaultPartSize)
	if c.PartSize < MinPartSize || c.PartSize > maxPartSize {
		env.Fail("LUDENG_BLOB_S3_PART_SIZE", "must be between 5MiB and 512MiB")
	}
	c.RedirectTTL = env.Duration("LUDENG_BLOB_S3_REDIRECT", 0)
	if c.RedirectTTL < 0 || c.RedirectTTL > 7*24*time.Hour {
		env.Fail("LUDENG_BLOB_S3_REDIRECT", "must be between 0 (off) and 7d")
	}
	return c
}

// S3 is a Store on an S3-compatible bucket: key "a/b" is object
// <prefix>/a/b. S3 PUTs and completed multipart uploads are atomic, which
// is the guarantee Store asks of Put.
type S3 struct {
	cfg    S3Config
	client *minio.Client
	core   minio.Core
}

// NewS3 builds the client. It does not contact the server; Check does.
func NewS3(cfg S3Config, hc *http.Client) (*S3, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("blob: s3 endpoint: %w", err)
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	opts := &minio.Options{
		Secure: u.Scheme == "https",
		Region: cfg.Region,
		Creds:  credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		// Our own code retries nothing blindly; the client's short retry
		// loop covers the transient 5xx and connection resets S3 documents.
		MaxRetries: 3,
	}
	if cfg.AccessKeyID == "" {
		opts.Creds = credentials.New(&credentials.Static{Value: credentials.Value{SignerType: credentials.SignatureAnonymous}})
	}
	if cfg.PathStyle {
		opts.BucketLookup = minio.BucketLookupPath
	} else {
		opts.BucketLookup = minio.BucketLookupDNS
	}
	if hc != nil {
		opts.Transport = hc.Transport
	}
	c, err := minio.New(u.Host, opts)
	if err != nil {
		return nil, fmt.Errorf("blob: s3 client: %w", err)
	}
	return &S3{cfg: cfg, client: c, core: minio.Core{Client: c}}, nil
}

// Config returns the configuration (with the secret).
func (s *S3) Config() S3Config { return s.cfg }

// String names the bucket and prefix for logs, never the credentials.
func (s *S3) String() string { return "s3://" + s.cfg.Bucket + "/" + s.cfg.Prefix }

func (s *S3) object(key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	if s.cfg.Prefix == "" {
		return key, nil
	}
	return s.cfg.Prefix + "/" + key, nil
}

// Check reports whether the bucket answers: readiness and the upload
// guard use it in place of the disk check, which means nothing for a
// bucket.
func (s *S3) Check(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.cfg.Bucket)
	if err != nil {
		return ErrStoreUnavailable.Wrap(fmt.Errorf("bucket %s: %w", s.cfg.Bucket, err))
	}
	if !ok {
		return ErrStoreUnavailable.Wrap(fmt.Errorf("bucket %s does not exist", s.cfg.Bucket))
	}
	return nil
}

// ErrStoreUnavailable is the 503 for uploads and new work while the object
// store cannot be reached.
var ErrStoreUnavailable = fault.New(fault.Unavailable, "blob_store_unavailable",
	"File storage is unreachable; uploads and generation are paused. Please try again later or contact an administrator.")

// Put sends r in one PUT when it fits in a part, else as a multipart upload
// of PartSize parts, so at most one part is in memory. A failing reader
// aborts the upload: nothing becomes visible under key.
func (s *S3) Put(ctx context.Context, key string, r io.Reader) (Info, error) {
	obj, err := s.object(key)
	if err != nil {
		return Info{}, err
	}
	var buf bytes.Buffer
	n, err := io.CopyN(&buf, ctxReader{ctx, r}, s.cfg.PartSize)
	if err != nil && err != io.EOF {
		return Info{}, readerErr("read "+key, err)
	}
	if n < s.cfg.PartSize {
		if _, err := s.core.PutObject(ctx, s.cfg.Bucket, obj, bytes.NewReader(buf.Bytes()), n, "", "", minio.PutObjectOptions{}); err != nil {
			return Info{}, fmt.Errorf("blob: s3 put %s: %w", key, err)
		}
		return s.Stat(ctx, key)
	}
	if err := s.putMultipart(ctx, key, obj, &buf, r); err != nil {
		return Info{}, err
	}
	return s.Stat(ctx, key)
}

func (s *S3) putMultipart(ctx context.Context, key, obj string, buf *bytes.Buffer, r io.Reader) (err error) {
	id, err := s.core.NewMultipartUpload(ctx, s.cfg.Bucket, obj, minio.PutObjectOptions{})
	if err != nil {
		return fmt.Errorf("blob: s3 start multipart %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			// Background context: the abort must happen even when ctx ended,
			// or the parts keep costing storage until a lifecycle rule runs.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = s.core.AbortMultipartUpload(actx, s.cfg.Bucket, obj, id)
		}
	}()
	var parts []minio.CompletePart
	for num := 1; ; num++ {
		if num > maxParts {
			return fmt.Errorf("blob: s3 put %s: more than %d parts of %d bytes", key, maxParts, s.cfg.PartSize)
		}
		p, err := s.core.PutObjectPart(ctx, s.cfg.Bucket, obj, id, num, bytes.NewReader(buf.Bytes()), int64(buf.Len()), minio.PutObjectPartOptions{})
		if err != nil {
			return fmt.Errorf("blob: s3 put part %d of %s: %w", num, key, err)
		}
		parts = append(parts, minio.CompletePart{PartNumber: num, ETag: p.ETag})
		buf.Reset()
		n, err := io.CopyN(buf, ctxReader{ctx, r}, s.cfg.PartSize)
		if err != nil && err != io.EOF {
			return readerErr("read "+key, err)
		}
		if n == 0 {
			break
		}
	}
	if _, err := s.core.CompleteMultipartUpload(ctx, s.cfg.Bucket, obj, id, parts, minio.PutObjectOptions{}); err != nil {
		return fmt.Errorf("blob: s3 complete multipart %s: %w", key, err)
	}
	return nil
}

// readerErr passes the reader's own errors (size limit, hash mismatch,
// cancel) through unchanged, as Local does.
func readerErr(what string, err error) error {
	var fe *fault.Error
	if errors.As(err, &fe) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("blob: %s: %w", what, err)
}

// Get starts the GET at once, so a missing key is ErrNotFound here and a
// whole-object read costs one request. Seeks are lazy: a Range request is
// sent only when reading from a position the open body is not at.
func (s *S3) Get(ctx context.Context, key string) (io.ReadSeekCloser, Info, error) {
	obj, err := s.object(key)
	if err != nil {
		return nil, Info{}, err
	}
	body, oi, _, err := s.core.GetObject(ctx, s.cfg.Bucket, obj, minio.GetObjectOptions{})
	if err != nil {
		return nil, Info{}, s.notFoundOr(key, err)
	}
	info := s.info(key, oi)
	return &s3Reader{s: s, ctx: ctx, obj: obj, size: info.Size, etag: oi.ETag, body: body}, info, nil
}

// Stat sends a HEAD.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	obj, err := s.object(key)
	if err != nil {
		return Info{}, err
	}
	oi, err := s.client.StatObject(ctx, s.cfg.Bucket, obj, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s.notFoundOr(key, err)
	}
	return s.info(key, oi), nil
}

// Touch copies the object onto itself with new metadata, which is the only
// way S3 offers to move LastModified: cleanup's minimum age then protects a
// blob that is about to gain a reference, as on local disk.
func (s *S3) Touch(ctx context.Context, key string) error {
	obj, err := s.object(key)
	if err != nil {
		return err
	}
	_, err = s.client.CopyObject(ctx,
		minio.CopyDestOptions{Bucket: s.cfg.Bucket, Object: obj, ReplaceMetadata: true,
			UserMetadata: map[string]string{"Touched": time.Now().UTC().Format(time.RFC3339Nano)}},
		minio.CopySrcOptions{Bucket: s.cfg.Bucket, Object: obj})
	if err != nil {
		return s.notFoundOr(key, err)
	}
	return nil
}

// Delete removes the object; S3 answers success for a missing key.
func (s *S3) Delete(ctx context.Context, key string) error {
	obj, err := s.object(key)
	if err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.cfg.Bucket, obj, minio.RemoveObjectOptions{}); err != nil {
		if isNotFound(err) {
			return nil
		}
		return fmt.Errorf("blob: s3 delete %s: %w", key, err)
	}
	return nil
}

// List pages through ListObjectsV2; S3 returns keys in UTF-8 binary order,
// which for our ASCII keys is the lexical order Store promises.
func (s *S3) List(ctx context.Context, prefix string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		if err := validPrefix(prefix); err != nil {
			yield(Info{}, err)
			return
		}
		base := ""
		if s.cfg.Prefix != "" {
			base = s.cfg.Prefix + "/"
		}
		lctx, cancel := context.WithCancel(ctx)
		defer cancel() // stops the listing goroutine when the caller breaks
		for oi := range s.client.ListObjects(lctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: base + prefix, Recursive: true}) {
			if oi.Err != nil {
				yield(Info{}, fmt.Errorf("blob: s3 list %q: %w", prefix, oi.Err))
				return
			}
			key := strings.TrimPrefix(oi.Key, base)
			if ValidKey(key) != nil {
				continue // not ours (e.g. written by hand beside the store)
			}
			if !yield(s.info(key, oi), nil) {
				return
			}
		}
		if err := ctx.Err(); err != nil {
			yield(Info{}, err)
		}
	}
}

// PresignGet returns a URL that fetches key directly from the bucket for
// ttl, with the response headers ludeng would have sent.
func (s *S3) PresignGet(ctx context.Context, key string, ttl time.Duration, contentType, disposition string) (string, error) {
	obj, err := s.object(key)
	if err != nil {
		return "", err
	}
	q := url.Values{}
	if contentType != "" {
		q.Set("response-content-type", contentType)
	}
	if disposition != "" {
		q.Set("response-content-disposition", disposition)
	}
	u, err := s.client.PresignedGetObject(ctx, s.cfg.Bucket, obj, ttl, q)
	if err != nil {
		return "", fmt.Errorf("blob: presign %s: %w", key, err)
	}
	return u.String(), nil
}

func (s *S3) info(key string, oi minio.ObjectInfo) Info {
	etag := oi.ETag
	if etag != "" && !strings.HasPrefix(etag, `"`) {
		etag = `"` + etag + `"`
	}
	return Info{Key: key, Size: oi.Size, ModTime: oi.LastModified, ETag: etag}
}

func isNotFound(err error) bool {
	switch minio.ToErrorResponse(err).Code {
	case minio.NoSuchKey, "NotFound":
		return true
	}
	return false
}

func (s *S3) notFoundOr(key string, err error) error {
	if isNotFound(err) {
		return ErrNotFound.With("key", key)
	}
	return fmt.Errorf("blob: s3 %s: %w", key, err)
}

// s3Reader is the ReadSeekCloser http.ServeContent needs: it knows the size
// from the first response, and reopens with a Range only when a read
// starts somewhere the open body is not.
type s3Reader struct {
	s       *S3
	ctx     context.Context
	obj     string
	size    int64
	etag    string
	pos     int64
	body    io.ReadCloser
	bodyPos int64
}

func (r *s3Reader) Read(p []byte) (int, error) {
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if r.body == nil || r.bodyPos != r.pos {
		if r.body != nil {
			r.body.Close()
			r.body = nil
		}
		opts := minio.GetObjectOptions{}
		if err := opts.SetRange(r.pos, r.size-1); err != nil {
			return 0, err
		}
		// If-Match: a Range read of a replaced object must fail rather than
		// splice two versions together.
		if r.etag != "" {
			if err := opts.SetMatchETag(strings.Trim(r.etag, `"`)); err != nil {
				return 0, err
			}
		}
		body, _, _, err := r.s.core.GetObject(r.ctx, r.s.cfg.Bucket, r.obj, opts)
		if err != nil {
			return 0, fmt.Errorf("blob: s3 range read: %w", err)
		}
		r.body, r.bodyPos = body, r.pos
	}
	n, err := r.body.Read(p)
	r.pos += int64(n)
	r.bodyPos += int64(n)
	if err == io.EOF && r.pos < r.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (r *s3Reader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.pos + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return 0, errors.New("blob: bad whence")
	}
	if abs < 0 {
		return 0, errors.New("blob: negative position")
	}
	r.pos = abs
	return abs, nil
}

func (r *s3Reader) Close() error {
	if r.body == nil {
		return nil
	}
	err := r.body.Close()
	r.body = nil
	return err
}
