package httpapi_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/httpapi"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/provider/sim"
	"github.com/ludeng/ludeng/internal/signedurl"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/upload"
)

type uploadBundle struct {
	*testBundle
	dataDir string
	free    *int64
}

func setupUploads(t *testing.T, engine store.Engine) *uploadBundle {
	t.Helper()
	return setupFull(t, engine, false)
}

// setupFull builds a server with every component enabled: uploads, and the
// element pool when withPool is set.
func setupFull(t *testing.T, engine store.Engine, withPoolRoutes bool) *uploadBundle {
	t.Helper()
	b := setup(t, engine)
	dataDir := t.TempDir()
	blobs, err := blob.NewLocal(dataDir)
	require.NoError(t, err)
	free := new(int64)
	*free = 1 << 40
	guard := blob.Guard{Dir: dataDir, Min: 1 << 30, FreeFunc: func(string) (int64, error) { return *free, nil }}
	intake, err := upload.New(upload.Config{TempDir: blobs.TempDir()}, upload.Deps{Space: guard})
	require.NoError(t, err)
	signer := signedurl.Signer{Key: []byte("test-secret-key-test-secret-key!"), Now: b.clock.Now}
	deps := httpapi.Deps{DB: b.db, Registry: b.registry2(), Now: b.clock.Now,
		Uploads: &httpapi.UploadDeps{Blobs: blobs, Intake: intake, Signer: signer}}
	if withPoolRoutes {
		pm := withPool(t, b)
		deps.Pool = pm
		svc, err := provider.New(provider.Config{}, provider.Deps{Simulator: sim.New(sim.Options{})})
		require.NoError(t, err)
		deps.Providers = svc
		// Batch routes with the pipeline's workers not started: batches
		// stay queued, which the access table relies on.
		enableBatchRoutes(t, b, &deps, pm, svc, blobs, signer)
	}
	api := newAPI(t, httpapi.Config{DataDir: dataDir, PasswordParams: testParams(), APIRate: 1000, APIBurst: 1000}, deps)
	b.replace(t, api)
	return &uploadBundle{testBundle: b, dataDir: dataDir, free: free}
}

func testPhoto(w, h int, seed uint8) []byte {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.SetRGBA(x, y, color.RGBA{uint8(x*7) + seed, uint8(y*5) ^ seed, uint8(x*y) + seed, 255})
		}
	}
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, m, &jpeg.Options{Quality: 85})
	return buf.Bytes()
}

// hugePNG is a valid 64×64 PNG whose header claims 100000×100000 pixels.
func hugePNG() []byte {
	var buf bytes.Buffer
	_ = png.Encode(&buf, image.NewGray(image.Rect(0, 0, 64, 64)))
	b := buf.Bytes()
	binary.BigEndian.PutUint32(b[16:], 100000)
	binary.BigEndian.PutUint32(b[20:], 100000)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

type part struct {
	field, filename, ctype string
	data                   []byte
}

func (c *client) upload(parts ...part) response {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="`+p.field+`"; filename="`+p.filename+`"`)
		if p.ctype != "" {
			h.Set("Content-Type", p.ctype)
		}
		w, err := mw.CreatePart(h)
		require.NoError(c.t, err)
		_, _ = w.Write(p.data)
	}
	require.NoError(c.t, mw.Close())
	req, err := http.NewRequest("POST", c.base+"/api/v1/uploads", &body)
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", c.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := c.hc.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// filesUnder lists regular files below dir (the data dir), for "nothing left behind".
func filesUnder(t *testing.T, dir string) []string {
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return err
	}))
	return out
}

func TestUploadHostileInputs(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setupUploads(t, engine)
		b.createUser(t, "op", store.RoleOperator)
		c := b.login(t, "op")
		good := testPhoto(1200, 900, 1)
		elf := append([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1}, bytes.Repeat([]byte{0}, 200)...)
		polyglotZip := append(append([]byte{}, good...), []byte("PK\x03\x04 not really a zip but appended")...)
		cases := []struct {
			name   string
			parts  []part
			status int
			code   string
		}{
			{"zero bytes", []part{{"file", "a.jpg", "image/jpeg", nil}}, 400, "upload_empty"},
			{"too large", []part{{"file", "big.jpg", "image/jpeg", bytes.Repeat([]byte{0xff}, 5<<20+1)}}, 413, "upload_too_large"},
			{"html renamed", []part{{"file", "x.jpg", "image/jpeg", []byte("<!doctype html><script>alert(1)</script>")}}, 415, "upload_unsupported_type"},
			{"svg renamed", []part{{"file", "x.png", "image/png", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)}}, 415, "upload_unsupported_type"},
			{"pdf renamed", []part{{"file", "x.webp", "image/webp", []byte("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n")}}, 415, "upload_unsupported_type"},
			{"elf renamed", []part{{"file", "x.jpg", "image/jpeg", elf}}, 415, "upload_unsupported_type"},
			{"gif", []part{{"file", "x.gif", "image/gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")}}, 415, "upload_unsupported_type"},
			{"truncated jpeg", []part{{"file", "t.jpg", "image/jpeg", good[:len(good)/2]}}, 422, "upload_corrupt"},
			{"png bomb header", []part{{"file", "bomb.png", "image/png", hugePNG()}}, 422, "upload_too_many_pixels"},
			{"tiny", []part{{"file", "tiny.jpg", "image/jpeg", testPhoto(40, 40, 2)}}, 422, "upload_too_small"},
			{"absurd aspect", []part{{"file", "strip.jpg", "image/jpeg", testPhoto(3000, 300, 3)}}, 422, "upload_bad_aspect"},
			{"two parts", []part{{"file", "a.jpg", "image/jpeg", good}, {"file", "b.jpg", "image/jpeg", good}}, 400, "upload_multiple_parts"},
			{"wrong field", []part{{"photo", "a.jpg", "image/jpeg", good}}, 400, "upload_missing_file"},
		}
		for _, tc := range cases {
			res := c.upload(tc.parts...)
			require.Equal(t, tc.status, res.status, "%s: %s", tc.name, res.body)
			require.Equal(t, tc.code, res.json(t)["code"], tc.name)
			require.Equal(t, "application/problem+json", res.header.Get("Content-Type"), tc.name)
		}
		// Not multipart at all.
		res := c.do("POST", "/api/v1/uploads", map[string]string{"file": "x"})
		require.Equal(t, http.StatusBadRequest, res.status)
		// Disk guard: 507 before anything is written.
		*b.free = 1 << 20
		res = c.upload(part{"file", "ok.jpg", "image/jpeg", good})
		require.Equal(t, http.StatusInsufficientStorage, res.status, string(res.body))
		require.Equal(t, "disk_full", res.json(t)["code"])
		*b.free = 1 << 40

		// Nothing of any refused upload is left on disk or in the database.
		require.Empty(t, filesUnder(t, b.dataDir))
		list := c.do("GET", "/api/v1/uploads", nil).json(t)["items"].([]any)
		require.Empty(t, list)

		// A path-traversal file name and a zip appended to a JPEG: accepted,
		// the name is cleaned and the appended bytes are gone after re-encoding.
		res = c.upload(part{"file", "../../etc/passwd.jpg", "text/html", polyglotZip})
		require.Equal(t, http.StatusCreated, res.status, string(res.body))
		up := res.json(t)
		require.NotContains(t, up["filename"], "/")
		require.NotContains(t, up["filename"], "..")
		full := c.do("GET", up["urls"].(map[string]any)["full"].(string), nil)
		require.Equal(t, http.StatusOK, full.status)
		require.NotContains(t, string(full.body), "PK\x03\x04")
		_, err := jpeg.Decode(bytes.NewReader(full.body))
		require.NoError(t, err)
	})
}

func TestUploadServeRangeETagAndLinks(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setupUploads(t, engine)
		b.createUser(t, "op", store.RoleOperator)
		b.createUser(t, "other", store.RoleOperator)
		b.createUser(t, "boss", store.RoleAdmin)
		c, other, admin := b.login(t, "op"), b.login(t, "other"), b.login(t, "boss")
		res := c.upload(part{"file", "路灯 产品.jpg", "image/jpeg", testPhoto(1100, 1000, 9)})
		require.Equal(t, http.StatusCreated, res.status, string(res.body))
		up := res.json(t)
		id := up["id"].(string)
		require.EqualValues(t, 1100, up["width"])
		require.NotEmpty(t, up["warnings"], "below 1024 px short side warns")
		content := "/api/v1/uploads/" + id + "/content"

		for _, size := range []string{"thumb", "preview", "full"} {
			res := c.do("GET", content+"?size="+size, nil)
			require.Equal(t, http.StatusOK, res.status, size)
			img, _, err := image.DecodeConfig(bytes.NewReader(res.body))
			require.NoError(t, err)
			if size == "thumb" {
				require.Equal(t, 150, img.Width)
				require.Equal(t, 150, img.Height)
			}
			if size == "preview" {
				require.LessOrEqual(t, max(img.Width, img.Height), 800)
			}
			require.Equal(t, "nosniff", res.header.Get("X-Content-Type-Options"))
			require.Contains(t, res.header.Get("Content-Disposition"), "inline")
			require.NotContains(t, res.header.Get("Content-Disposition"), "\n")
		}
		require.Equal(t, http.StatusBadRequest, c.do("GET", content+"?size=huge", nil).status)

		// Range and ETag.
		full := c.do("GET", content, nil)
		etag := full.header.Get("ETag")
		require.Equal(t, `"`+up["sha256"].(string)+`"`, etag)
		req, _ := http.NewRequest("GET", b.srv.URL+content, nil)
		req.Header.Set("Range", "bytes=10-19")
		rr, err := c.hc.Do(req)
		require.NoError(t, err)
		part, _ := io.ReadAll(rr.Body)
		rr.Body.Close()
		require.Equal(t, http.StatusPartialContent, rr.StatusCode)
		require.Equal(t, full.body[10:20], part)
		req, _ = http.NewRequest("GET", b.srv.URL+content, nil)
		req.Header.Set("If-None-Match", etag)
		rr, err = c.hc.Do(req)
		require.NoError(t, err)
		rr.Body.Close()
		require.Equal(t, http.StatusNotModified, rr.StatusCode)

		// Isolation: another operator sees nothing; an admin sees it.
		require.Equal(t, http.StatusNotFound, other.do("GET", "/api/v1/uploads/"+id, nil).status)
		require.Equal(t, http.StatusNotFound, other.do("GET", content, nil).status)
		require.Empty(t, other.do("GET", "/api/v1/uploads", nil).json(t)["items"])
		require.Equal(t, http.StatusOK, admin.do("GET", content, nil).status)
		require.Equal(t, http.StatusUnauthorized, b.client(t).do("GET", content, nil).status)

		// Signed link: works without a session until it expires.
		res = c.do("POST", "/api/v1/uploads/"+id+"/links", map[string]string{"expires_in": "1h", "size": "preview"})
		require.Equal(t, http.StatusCreated, res.status, string(res.body))
		link := res.json(t)["url"].(string)
		anon := b.client(t)
		require.Equal(t, http.StatusOK, anon.do("GET", link, nil).status)
		require.Equal(t, http.StatusForbidden, anon.do("GET", strings.Replace(link, "size=preview", "size=full", 1), nil).status)
		require.Equal(t, http.StatusNotFound, other.do("POST", "/api/v1/uploads/"+id+"/links", map[string]string{}).status)
		require.Equal(t, http.StatusBadRequest, c.do("POST", "/api/v1/uploads/"+id+"/links", map[string]string{"expires_in": "90d"}).status)
		b.clock.Add(time.Hour + time.Second)
		res = anon.do("GET", link, nil)
		require.Equal(t, http.StatusGone, res.status)
		require.Equal(t, "link_expired", res.json(t)["code"])

		// Logging out everywhere voids the links handed out so far.
		res = c.do("POST", "/api/v1/uploads/"+id+"/links", map[string]string{"expires_in": "1h"})
		require.Equal(t, http.StatusCreated, res.status, string(res.body))
		link = res.json(t)["url"].(string)
		require.Equal(t, http.StatusOK, anon.do("GET", link, nil).status)
		require.Equal(t, http.StatusNoContent, c.do("POST", "/api/v1/auth/logout-all", nil).status)
		require.Equal(t, http.StatusUnauthorized, c.do("GET", "/api/v1/auth/me", nil).status, "the session is gone too")
		res = anon.do("GET", link, nil)
		require.Equal(t, http.StatusForbidden, res.status)
		require.Equal(t, "link_invalid", res.json(t)["code"])
		c = b.login(t, "op")

		// Delete: the record goes, other users' copies of the same bytes stay.
		require.Equal(t, http.StatusNotFound, other.do("DELETE", "/api/v1/uploads/"+id, nil).status)
		require.Equal(t, http.StatusNoContent, c.do("DELETE", "/api/v1/uploads/"+id, nil).status)
		require.Equal(t, http.StatusNotFound, c.do("GET", "/api/v1/uploads/"+id, nil).status)
	})
}

func TestConcurrentSameUploadOneBlob(t *testing.T) {
	t.Parallel()
	b := setupUploads(t, store.SQLite)
	b.createUser(t, "op", store.RoleOperator)
	b.createUser(t, "op2", store.RoleOperator)
	cs := []*client{b.login(t, "op"), b.login(t, "op2")}
	photo := testPhoto(1300, 1100, 5)
	var wg sync.WaitGroup
	ids := make(chan string, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(c *client) {
			defer wg.Done()
			res := c.upload(part{"file", "same.jpg", "image/jpeg", photo})
			if res.status == http.StatusCreated {
				ids <- res.json(t)["sha256"].(string)
			}
		}(cs[i%2])
	}
	wg.Wait()
	close(ids)
	var shas []string
	for s := range ids {
		shas = append(shas, s)
	}
	require.Len(t, shas, 8)
	originals := 0
	for _, f := range filesUnder(t, filepath.Join(b.dataDir, "blobs")) {
		if strings.HasSuffix(f, shas[0]) {
			originals++
		}
	}
	require.Equal(t, 1, originals, "identical content is stored once")
	n, err := b.db.ContentReferenced(context.Background(), shas[0])
	require.NoError(t, err)
	require.True(t, n)
}
