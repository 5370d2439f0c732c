package httpapi_test

import (
	"bytes"
	"image/jpeg"
	"mime"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/docs/manual"
	"github.com/ludeng/ludeng/internal/httpapi"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/web"
)

// readableName is 01_延庆区_8月_清晨晴.jpg: group, county, month, time+weather.
var readableName = regexp.MustCompile(`^\d\d_[^_/]+_\d{1,2}月_[^_/.]+\.(jpg|png)$`)

// imagesOf lists the batch's succeeded images (QC may fail one now and
// then; the picking features concern the ones that succeeded).
func imagesOf(v map[string]any) []map[string]any {
	var out []map[string]any
	for _, g := range v["groups"].([]any) {
		for _, im := range g.(map[string]any)["images"].([]any) {
			if m := im.(map[string]any); m["status"] == store.ImageSucceeded {
				out = append(out, m)
			}
		}
	}
	return out
}

func imageNames(files map[string][]byte) []string {
	var out []string
	for name := range files {
		if strings.HasSuffix(name, ".jpg") || strings.HasSuffix(name, ".png") {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func dispositionName(t *testing.T, h http.Header) string {
	t.Helper()
	_, params, err := mime.ParseMediaType(h.Get("Content-Disposition"))
	require.NoError(t, err, h.Get("Content-Disposition"))
	return params["filename"]
}

// TestPicking: stars and the starred zip, a selection zip, single-image
// downloads, readable names, the card size, names and archive, post kits
// in the zip, regenerate with versions.
func TestPicking(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setupBatches(t, engine, batchOpts{})
		b.createUser(t, "ops", store.RoleOperator)
		b.createUser(t, "eve", store.RoleOperator)
		c := b.login(t, "ops")
		eve := b.login(t, "eve")
		up := uploadPhoto(t, c)
		res := c.do("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 2, "seed": 7})
		require.Equal(t, http.StatusAccepted, res.status, string(res.body))
		id := res.json(t)["id"].(string)
		v := waitTerminal(t, c, id)
		require.Contains(t, []any{store.BatchSucceeded, store.BatchPartiallyFailed}, v["status"])
		imgs := imagesOf(v)
		require.GreaterOrEqual(t, len(imgs), 5)
		last := len(imgs) - 1
		require.NotEmpty(t, v["default_name"])
		for _, im := range imgs {
			require.Regexp(t, readableName, im["file_name"])
			require.Equal(t, false, im["starred"])
		}
		g0 := v["groups"].([]any)[0].(map[string]any)
		ok0 := 0
		for _, im := range g0["images"].([]any) {
			if im.(map[string]any)["status"] == store.ImageSucceeded {
				ok0++
			}
		}
		require.EqualValues(t, ok0, g0["progress"].(map[string]any)["succeeded"])
		require.EqualValues(t, 4, g0["progress"].(map[string]any)["total"])

		// The card keeps the image's aspect ratio at 400 px wide.
		urls := imgs[0]["urls"].(map[string]any)
		r := c.do("GET", urls["card"].(string), nil)
		require.Equal(t, http.StatusOK, r.status)
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(r.body))
		require.NoError(t, err)
		w, h := imgs[0]["width"].(float64), imgs[0]["height"].(float64)
		require.Equal(t, 400, cfg.Width)
		require.InDelta(t, w/h, float64(cfg.Width)/float64(cfg.Height), 0.005)

		// Single download with the readable name.
		r = c.do("GET", urls["download"].(string), nil)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.Equal(t, imgs[0]["file_name"], dispositionName(t, r.header))
		require.Equal(t, http.StatusNotFound, eve.do("GET", urls["download"].(string), nil).status)

		// Star two; the starred zip holds exactly those, flat.
		for _, im := range []map[string]any{imgs[1], imgs[last]} {
			r = c.do("PUT", "/api/v1/images/"+im["id"].(string)+"/star", map[string]any{"starred": true})
			require.Equal(t, http.StatusOK, r.status, string(r.body))
		}
		require.Equal(t, http.StatusNotFound, eve.do("PUT", "/api/v1/images/"+imgs[2]["id"].(string)+"/star", map[string]any{"starred": true}).status)
		require.Equal(t, http.StatusBadRequest, c.do("PUT", "/api/v1/images/"+imgs[2]["id"].(string)+"/star", map[string]any{}).status/100*100)
		v = c.do("GET", "/api/v1/batches/"+id, nil).json(t)
		imgs = imagesOf(v)
		require.Equal(t, true, imgs[1]["starred"])
		require.Equal(t, true, imgs[last]["starred"])
		want := []string{imgs[1]["file_name"].(string), imgs[last]["file_name"].(string)}
		sort.Strings(want)
		r = c.do("GET", "/api/v1/batches/"+id+"/download?starred=true", nil)
		require.Equal(t, http.StatusOK, r.status)
		require.Equal(t, want, imageNames(readZip(t, r.body)))
		require.Contains(t, dispositionName(t, r.header), "星标")
		r = c.do("GET", "/api/v1/batches/"+id+"/download?images="+imgs[3]["id"].(string), nil)
		require.Equal(t, []string{imgs[3]["file_name"].(string)}, imageNames(readZip(t, r.body)))

		// A name is the zip's name; archived batches leave the default list.
		r = c.do("PATCH", "/api/v1/batches/"+id, map[string]any{"name": "  八月  北京 "})
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.Equal(t, "八月 北京", r.json(t)["name"])
		r = c.do("PATCH", "/api/v1/batches/"+id, map[string]any{"name": strings.Repeat("长", 61)})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, string(r.body))
		r = c.do("GET", "/api/v1/batches/"+id+"/download", nil)
		require.Equal(t, "八月_北京.zip", dispositionName(t, r.header))
		require.Equal(t, http.StatusOK, c.do("PATCH", "/api/v1/batches/"+id, map[string]any{"archived": true}).status)
		require.Empty(t, c.do("GET", "/api/v1/batches?archived=false", nil).json(t)["items"])
		require.Len(t, c.do("GET", "/api/v1/batches?archived=true", nil).json(t)["items"], 1)
		require.Equal(t, http.StatusNotFound, eve.do("PATCH", "/api/v1/batches/"+id, map[string]any{"archived": false}).status)

		// Post kit (no DeepSeek key here: the template), edit, zip.
		gid := g0["id"].(string)
		r = c.do("POST", "/api/v1/batches/"+id+"/groups/"+gid+"/note", map[string]any{"tone": "pro"})
		require.Equal(t, http.StatusCreated, r.status, string(r.body))
		note := r.json(t)
		require.Equal(t, "template", note["source"])
		require.LessOrEqual(t, utf8.RuneCountInString(note["title"].(string)), 20)
		n := utf8.RuneCountInString(note["body"].(string))
		require.True(t, n >= 100 && n <= 300, n)
		require.Contains(t, note["body"], g0["scene"].(map[string]any)["county"])
		r = c.do("POST", "/api/v1/batches/"+id+"/groups/"+gid+"/note", map[string]any{"tone": "loud"})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, string(r.body))
		r = c.do("PUT", "/api/v1/batches/"+id+"/groups/"+gid+"/note", map[string]any{"title": "改过的标题", "body": "正文", "hashtags": []string{"#路灯", "路灯", "乡村"}})
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.Equal(t, "edited", r.json(t)["source"])
		require.Equal(t, []any{"路灯", "乡村"}, r.json(t)["hashtags"])
		r = c.do("PUT", "/api/v1/batches/"+id+"/groups/"+gid+"/note", map[string]any{"title": strings.Repeat("长", 21), "body": "正文"})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, string(r.body))
		files := readZip(t, c.do("GET", "/api/v1/batches/"+id+"/download", nil).body)
		var notes []string
		for name, body := range files {
			if strings.HasSuffix(name, "/note.txt") {
				notes = append(notes, name)
				require.Equal(t, "改过的标题\n\n正文\n\n#路灯 #乡村\n", string(body))
			}
		}
		require.Len(t, notes, 1)
		require.Contains(t, string(files["manifest.csv"]), "改过的标题")
		require.Len(t, imageNames(files), len(imgs))

		// Regenerate one image: a new version, the old one kept and selectable.
		target := imgs[2]
		tid := target["id"].(string)
		oldFull := target["urls"].(map[string]any)["full"].(string)
		oldBytes := c.do("GET", oldFull, nil).body
		r = c.do("POST", "/api/v1/images/"+tid+"/regenerate", map[string]any{"instruction": strings.Repeat("x", 121)})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, string(r.body))
		r = c.do("POST", "/api/v1/images/"+tid+"/regenerate", map[string]any{"instruction": "lamp larger"})
		require.Equal(t, http.StatusAccepted, r.status, string(r.body))
		require.Equal(t, http.StatusConflict, c.do("POST", "/api/v1/images/"+imgs[3]["id"].(string)+"/regenerate", nil).status,
			"one regenerate at a time per batch")
		require.Equal(t, http.StatusNotFound, eve.do("POST", "/api/v1/images/"+tid+"/regenerate", nil).status)
		v = waitTerminal(t, c, id)
		require.Contains(t, []any{store.BatchSucceeded, store.BatchPartiallyFailed}, v["status"])
		var now map[string]any
		for _, im := range imagesOf(v) {
			if im["id"] == tid {
				now = im
			}
		}
		require.Equal(t, "lamp larger", now["instruction"])
		require.EqualValues(t, 2, now["versions"])
		require.Equal(t, target["variant"].(map[string]any)["id"], now["variant"].(map[string]any)["id"], "same variant")
		require.NotEqual(t, oldFull, now["urls"].(map[string]any)["full"])
		newBytes := c.do("GET", now["urls"].(map[string]any)["full"].(string), nil).body
		require.NotEqual(t, oldBytes, newBytes, "a new draw")
		vl := c.do("GET", "/api/v1/images/"+tid+"/versions", nil).json(t)["items"].([]any)
		require.Len(t, vl, 2)
		first, second := vl[0].(map[string]any), vl[1].(map[string]any)
		require.Equal(t, false, first["current"])
		require.Equal(t, true, second["current"])
		require.Equal(t, oldBytes, c.do("GET", first["urls"].(map[string]any)["full"].(string), nil).body)
		r = c.do("POST", "/api/v1/images/"+tid+"/versions/"+first["id"].(string)+"/select", nil)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		for _, im := range imagesOf(r.json(t)) {
			if im["id"] == tid {
				require.Equal(t, oldFull, im["urls"].(map[string]any)["full"])
				require.EqualValues(t, 2, im["versions"])
			}
		}
		require.Equal(t, oldBytes, c.do("GET", oldFull, nil).body)
		require.Equal(t, http.StatusOK, c.do("DELETE", "/api/v1/batches/"+id, nil).status/100*100+0*1)
	})
}

// TestStaticGzip: the binary compresses the app's JS and CSS itself.
func TestStaticGzip(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite, func(_ *httpapi.Config, d *httpapi.Deps) { d.Web = web.FS() })
	c := b.client(t)
	page := c.do("GET", "/", nil)
	require.Equal(t, http.StatusOK, page.status)
	assets := regexp.MustCompile(`/assets/[^"]+\.(js|css)`).FindAllString(string(page.body), -1)
	require.NotEmpty(t, assets)
	for _, a := range assets {
		req, _ := http.NewRequest("GET", b.srv.URL+a, nil)
		req.Header.Set("Accept-Encoding", "gzip, deflate, br")
		res, err := http.DefaultTransport.RoundTrip(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode, a)
		require.Equal(t, "gzip", res.Header.Get("Content-Encoding"), a)
		require.Contains(t, res.Header.Get("Vary"), "Accept-Encoding")
		req.Header.Set("Accept-Encoding", "gzip;q=0, identity")
		res, err = http.DefaultTransport.RoundTrip(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Empty(t, res.Header.Get("Content-Encoding"), a)
	}
}

// TestManualServed: the binary renders the manual's pages and serves its screenshots.
func TestManualServed(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite, func(_ *httpapi.Config, d *httpapi.Deps) { d.Web, d.Manual = web.FS(), manual.FS() })
	c := b.client(t)
	res := c.do("GET", "/manual/", nil)
	require.Equal(t, http.StatusOK, res.status)
	require.Contains(t, string(res.body), `<a href="zh-CN">`)
	res = c.do("GET", "/manual/zh-CN", nil)
	require.Equal(t, http.StatusOK, res.status)
	page := string(res.body)
	require.Contains(t, page, "<h1 id=")
	imgs := regexp.MustCompile(`<img src="(images/[^"]+)"`).FindAllStringSubmatch(page, -1)
	require.GreaterOrEqual(t, len(imgs), 10)
	for _, m := range imgs {
		r := c.do("GET", "/manual/"+m[1], nil)
		require.Equal(t, http.StatusOK, r.status, m[1])
		require.Equal(t, "image/png", r.header.Get("Content-Type"))
	}
	require.Equal(t, http.StatusNotFound, c.do("GET", "/manual/missing.md", nil).status)
}
